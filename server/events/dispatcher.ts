// Moves events from the outbox to their consumers. Every process runs one; an advisory lock lets one
// dispatch at a time, so stream positions (`seq`) are handed out and published in one order. For each
// batch, in one transaction: give streamed events their positions, queue a delivery for every active
// webhook of the team subscribed to the type and for every notification channel an alert event is routed to, publish to the event bus, mark the events dispatched.
// A process that dies mid-batch rolls it back and another dispatches it again: an event may then be
// published twice (with the same event id), never lost.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../logger.ts';
import { traceDispatch } from '../observability/tracing.ts';
import type { EventChannel, StreamEvent } from './catalogue.ts';
import type { EventBus, PublishedEvent } from './event-bus.ts';
import { queueDeliveries } from '../modules/webhooks/webhooks.repository.ts';
import { isNotified, queueNotifications } from '../modules/notifications/notifications.repository.ts';
import { toEventPayload } from './event.mapper.ts';

/**
 * pg_advisory_xact_lock key of the dispatcher ("opsdeck events" in ASCII). A stream's replay takes it shared,
 * so it reads after any batch already published has committed (modules/events/events.repository.ts).
 */
export const DISPATCH_LOCK = 0x6f7073646b657674n;
const BATCH_SIZE = 500;
const PRUNE_BATCH = 5_000;

export interface DispatcherOptions {
  pollMs: number;
  /** Told after a batch that queued webhook deliveries, so they go out at once. */
  onDeliveriesQueued?: () => void;
  /** Told after every run of the loop, whether it dispatched or failed (the metrics count them). */
  onRun?: (ok: boolean) => void;
}

export class OutboxDispatcher {
  readonly #db: Kysely<Database>;
  readonly #bus: EventBus;
  readonly #log: Logger;
  readonly #options: DispatcherOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(db: Kysely<Database>, bus: EventBus, log: Logger, options: DispatcherOptions) {
    this.#db = db;
    this.#bus = bus;
    this.#log = log;
    this.#options = options;
  }

  /** Dispatches one batch; answers how many events it dispatched (0 when another process holds the lock). */
  async dispatchOnce(): Promise<number> {
    let queued = 0;
    const count = await this.#db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${DISPATCH_LOCK}) as locked`.execute(trx);
      if (!rows[0]?.locked) return 0;
      const events = await trx
        .selectFrom('events')
        .select(['id', 'type', 'channel', 'team_id', 'data', 'occurred_at', 'traceparent', 'tracestate'])
        .where('dispatched_at', 'is', null)
        .orderBy('occurred_at')
        .orderBy('id')
        .limit(BATCH_SIZE)
        .execute();
      if (events.length === 0) return 0;
      // Traced, the rest of the batch is one span, linked to the requests that caused its events.
      return traceDispatch(events, async () => {
        const ids = events.map((e) => e.id);

        // Stream positions in the order the events happened.
        const positions = new Map<string, string>();
        const streamed = events.filter((e) => e.channel !== null).map((e) => e.id);
        if (streamed.length > 0) {
          const { rows: numbered } = await sql<{ id: string; seq: string }>`
            update events e set seq = n.seq
              from (select id, nextval('event_stream_seq') as seq
                      from (select id, ord from unnest(${streamed}::uuid[]) with ordinality as t(id, ord)) o
                     order by o.ord) n
             where e.id = n.id
            returning e.id, n.seq::text as seq`.execute(trx);
          for (const row of numbered) positions.set(row.id, row.seq);
        }
        await trx.updateTable('events').set({ dispatched_at: sql`now()` }).where('id', 'in', ids).execute();

        const targets = await trx
          .selectFrom('events as e')
          // A webhook receives what happens after it was registered, not an older event still in the outbox.
          .innerJoin('webhooks as w', (join) =>
            join.onRef('w.team_id', '=', 'e.team_id').on('w.active', '=', true).on(sql<boolean>`e.type = any(w.events)`).onRef('w.created_at', '<=', 'e.occurred_at'),
          )
          .select(['w.id as webhook_id', 'e.id as event_id', 'e.type'])
          .where('e.id', 'in', ids)
          .orderBy('e.occurred_at')
          .orderBy('e.id')
          .execute();
        if (targets.length > 0) {
          await queueDeliveries(trx, targets.map((t) => ({ webhook_id: t.webhook_id, event_id: t.event_id, event: t.type })));
          queued = targets.length;
        }
        // Alert events also notify the team's notification channels (routing and silences: modules/notifications).
        queued += await queueNotifications(trx, events.filter((e) => isNotified(e.type)).map((e) => e.id));

        // Published while the lock is held, so processes publish in position order.
        const published: PublishedEvent[] = events.flatMap((e) => {
          const seq = positions.get(e.id);
          return seq === undefined ? [] : [{ seq, channel: e.channel as EventChannel, event: toEventPayload(e) as StreamEvent }];
        });
        await this.#bus.publish(published).catch((err: unknown) => {
          // Webhooks must not wait for Redis: the events are dispatched, and live subscribers catch up
          // with Last-Event-ID when they reconnect.
          this.#log.warn({ err: (err as Error).message, events: published.length }, 'dispatcher: publishing to the event bus failed');
        });
        return events.length;
      });
    });
    if (queued > 0) this.#options.onDeliveriesQueued?.();
    return count;
  }

  /** Deletes dispatched events (with their deliveries) older than `retentionDays`, a batch at a time; answers how many. */
  async prune(retentionDays: number): Promise<number> {
    const cutoff = new Date(Date.now() - retentionDays * 86_400_000);
    let total = 0;
    for (;;) {
      const result = await this.#db
        .deleteFrom('events')
        .where('id', 'in', (eb) =>
          eb.selectFrom('events').select('id').where('occurred_at', '<', cutoff).where('dispatched_at', 'is not', null).limit(PRUNE_BATCH),
        )
        .executeTakeFirst();
      const deleted = Number(result.numDeletedRows);
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }

  /** Dispatches until stopped: at once while there is a backlog, else every `pollMs`. */
  start(): void {
    this.#stopped = false;
    const tick = () => {
      this.#running = this.dispatchOnce().then(
        (n) => {
          this.#options.onRun?.(true);
          this.#schedule(tick, n === BATCH_SIZE ? 0 : this.#options.pollMs);
        },
        (err: unknown) => {
          this.#options.onRun?.(false);
          this.#log.warn({ err: (err as Error).message }, 'dispatcher failed; it tries again');
          this.#schedule(tick, Math.max(this.#options.pollMs, 1000));
        },
      );
    };
    tick();
  }

  #schedule(tick: () => void, ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(tick, ms);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
  }
}
