// The transactional outbox: a change records its event with the same executor (transaction) that makes the
// change, so the event commits or rolls back with it. The dispatcher takes it from there.
import { sql } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Executor } from '../db/executor.ts';
import { currentTraceContext } from '../observability/tracing.ts';
import { channelOf, type EventData, type EventType, type WebhookPingEvent } from './catalogue.ts';

export interface NewEvent<T extends EventType = EventType> {
  type: T;
  teamId: string;
  data: EventData<T>;
}

/**
 * Records events in the caller's transaction; call it with the transaction that makes the change. When tracing
 * is on, each keeps the trace context of the request recording it, so its dispatch and webhook attempts join
 * that request's trace.
 */
export async function recordEvents(db: Executor, events: readonly NewEvent[]): Promise<void> {
  const trace = currentTraceContext();
  // A statement takes at most 65,535 parameters: a fleet task's events (two per child, 5,000 children) go in chunks.
  for (let i = 0; i < events.length; i += EVENTS_PER_STATEMENT) {
    await db
      .insertInto('events')
      .values(events.slice(i, i + EVENTS_PER_STATEMENT).map((e) => ({ id: uuidv7(), type: e.type, channel: channelOf.get(e.type) ?? null, team_id: e.teamId, data: JSON.stringify(e.data), ...trace })))
      .execute();
  }
}

const EVENTS_PER_STATEMENT = 2_000;

export const recordEvent = <T extends EventType>(db: Executor, type: T, teamId: string, data: EventData<T>): Promise<void> =>
  recordEvents(db, [{ type, teamId, data } as NewEvent]);

/**
 * A ping, meant for the one webhook pinged: recorded as already dispatched, so the dispatcher neither
 * streams it nor queues it for other webhooks. Answers its id, for the delivery the caller queues.
 */
export async function recordPing(db: Executor, teamId: string, data: WebhookPingEvent['data']): Promise<string> {
  const id = uuidv7();
  await db
    .insertInto('events')
    .values({ id, type: 'webhook.ping', channel: null, team_id: teamId, data: JSON.stringify(data), dispatched_at: sql<Date>`now()` as never, ...currentTraceContext() })
    .execute();
  return id;
}
