// The transactional outbox: a change records its event with the same executor (transaction) that makes the
// change, so the event commits or rolls back with it. The dispatcher takes it from there.
import { v7 as uuidv7 } from 'uuid';
import type { Executor } from '../modules/agents/agents.repository.ts';
import { channelOf, type EventData, type EventType } from './catalogue.ts';

export interface NewEvent<T extends EventType = EventType> {
  type: T;
  teamId: string;
  data: EventData<T>;
}

/** Records events in the caller's transaction; call it with the transaction that makes the change. */
export async function recordEvents(db: Executor, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('events')
    .values(events.map((e) => ({ id: uuidv7(), type: e.type, channel: channelOf.get(e.type) ?? null, team_id: e.teamId, data: JSON.stringify(e.data) })))
    .execute();
}

export const recordEvent = <T extends EventType>(db: Executor, type: T, teamId: string, data: EventData<T>): Promise<void> =>
  recordEvents(db, [{ type, teamId, data } as NewEvent]);
