// Thin Kysely queries for webhooks and their deliveries, with explicit columns: the encrypted secret is
// read only by `secretOf` (for signing), never by the reads that answer requests. Webhook reads are scoped
// to the caller's teams; a delivery is reached through its webhook.
import { sql, type Updateable } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { EventRow, WebhookDeliveriesTable, WebhookDeliveryAttemptRow, WebhookDeliveryRow, WebhooksTable } from '../../db/schema.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import { onlyTeams } from '../../db/team-scope.ts';
import type { Executor } from '../../db/executor.ts';
import type { PublicWebhookRow } from './webhooks.mapper.ts';

export const SORTABLE_FIELDS = ['created_at', 'updated_at'] as const;
export type WebhookSortField = (typeof SORTABLE_FIELDS)[number];
export const DELIVERY_SORTABLE_FIELDS = ['created_at'] as const;
export type DeliverySortField = (typeof DELIVERY_SORTABLE_FIELDS)[number];

const webhookColumns = [
  'id',
  'team_id',
  'url',
  'events',
  'description',
  'secret_hint',
  'active',
  'disabled_reason',
  'disabled_at',
  'consecutive_failures',
  'last_delivery_at',
  'created_at',
  'updated_at',
] as const;

const deliveryColumns = [
  'id',
  'webhook_id',
  'event_id',
  'event',
  'status',
  'attempt_count',
  'next_attempt_at',
  'last_status_code',
  'redelivery_of',
  'created_at',
  'completed_at',
] as const;

const attemptColumns = ['delivery_id', 'number', 'attempted_at', 'status_code', 'latency_ms', 'response_excerpt', 'error', 'succeeded'] as const;

export interface WebhookFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  active?: boolean | undefined;
}

const inTeams = (db: Executor, teamIds: readonly string[]) => db.selectFrom('webhooks').$call(onlyTeams(teamIds));

function filtered(db: Executor, filter: WebhookFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.active !== undefined) query = query.where('active', '=', filter.active);
  return query;
}

const column = (field: string) => sql.ref(field);

export const listWebhooks = (db: Executor, filter: WebhookFilter, keys: SortKey<WebhookSortField>[], window: Window): Promise<PublicWebhookRow[]> =>
  pageOf(filtered(db, filter).select(webhookColumns), keys, window, column).execute();

export async function countWebhooks(db: Executor, filter: WebhookFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findWebhook = (db: Executor, id: string, teamIds: readonly string[]): Promise<PublicWebhookRow | undefined> =>
  inTeams(db, teamIds).select(webhookColumns).where('id', '=', id).executeTakeFirst();

/**
 * One of the caller's webhooks, locked for the rest of the transaction. FOR NO KEY UPDATE: the id never
 * changes, and inserting a delivery (which only key-shares its webhook) need not wait for the lock.
 */
export const lockWebhook = (db: Executor, id: string, teamIds: readonly string[]): Promise<PublicWebhookRow | undefined> =>
  inTeams(db, teamIds).select(webhookColumns).where('id', '=', id).forNoKeyUpdate().executeTakeFirst();

export const insertWebhook = (
  db: Executor,
  row: Pick<WebhooksTable, 'id' | 'team_id' | 'url' | 'events' | 'description' | 'secret_ciphertext' | 'secret_hint'>,
): Promise<PublicWebhookRow> => db.insertInto('webhooks').values(row).returning(webhookColumns).executeTakeFirstOrThrow();

export const updateWebhook = (db: Executor, id: string, changes: Updateable<WebhooksTable>): Promise<PublicWebhookRow> =>
  db.updateTable('webhooks').set(changes).where('id', '=', id).returning(webhookColumns).executeTakeFirstOrThrow();

/** `expectedUpdatedAt`: delete only that version (an If-Match that held). Deliveries and attempts cascade. */
export async function deleteWebhook(db: Executor, id: string, expectedUpdatedAt: string | null): Promise<boolean> {
  let query = db.deleteFrom('webhooks').where('id', '=', id);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return Number((await query.executeTakeFirst()).numDeletedRows) > 0;
}

/** The encrypted signing secret of a webhook (for the deliverer only). */
export const secretOf = async (db: Executor, id: string): Promise<string | undefined> =>
  (await db.selectFrom('webhooks').select('secret_ciphertext').where('id', '=', id).executeTakeFirst())?.secret_ciphertext;

/** Fails the webhook's pending deliveries (it was turned off); answers how many. */
export async function failPendingDeliveries(db: Executor, webhookId: string): Promise<number> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', next_attempt_at: null, completed_at: sql`now()` })
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

type NewDelivery = Pick<WebhookDeliveriesTable, 'webhook_id' | 'event_id' | 'event'> & { redelivery_of?: string | null };

/** Pending deliveries, due now (the dispatcher's for new events, pings, redeliveries). */
export async function queueDeliveries(db: Executor, rows: readonly NewDelivery[]): Promise<WebhookDeliveryRow[]> {
  if (rows.length === 0) return [];
  return db
    .insertInto('webhook_deliveries')
    .values(rows.map((row) => ({ ...row, id: uuidv7(), next_attempt_at: sql<Date>`now()` as never })))
    .returning(deliveryColumns)
    .execute();
}

export interface DeliveryFilter {
  webhookId: string;
  status?: WebhookDeliveryRow['status'] | undefined;
  event?: string | undefined;
}

function deliveriesOf(db: Executor, filter: DeliveryFilter) {
  let query = db.selectFrom('webhook_deliveries').where('webhook_id', '=', filter.webhookId);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.event) query = query.where('event', '=', filter.event);
  return query;
}

export const listDeliveries = (db: Executor, filter: DeliveryFilter, keys: SortKey<DeliverySortField>[], window: Window): Promise<WebhookDeliveryRow[]> =>
  pageOf(deliveriesOf(db, filter).select(deliveryColumns), keys, window, column).execute();

export async function countDeliveries(db: Executor, filter: DeliveryFilter): Promise<number> {
  return (await deliveriesOf(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findDelivery = (db: Executor, webhookId: string, id: string): Promise<WebhookDeliveryRow | undefined> =>
  db.selectFrom('webhook_deliveries').select(deliveryColumns).where('id', '=', id).where('webhook_id', '=', webhookId).executeTakeFirst();

export const findEvent = (db: Executor, id: string): Promise<Pick<EventRow, 'id' | 'type' | 'team_id' | 'data' | 'occurred_at'> | undefined> =>
  db.selectFrom('events').select(['id', 'type', 'team_id', 'data', 'occurred_at']).where('id', '=', id).executeTakeFirst();

/** A delivery's attempts, oldest first. */
export const attemptsOf = (db: Executor, deliveryId: string): Promise<WebhookDeliveryAttemptRow[]> =>
  db.selectFrom('webhook_delivery_attempts').select(attemptColumns).where('delivery_id', '=', deliveryId).orderBy('number').execute();

// ---- The deliverer's side ----

export interface ClaimedDelivery {
  id: string;
  /** The webhook, or the notification channel: what `max_in_flight_per_webhook` counts per. */
  target_id: string;
  /** Null for a notification to a channel. */
  webhook_id: string | null;
  /** Set for a notification to a channel (modules/notifications), instead of `webhook_id`. */
  channel_id: string | null;
  event_id: string;
  event: string;
  attempt_count: number;
}

export interface ClaimLimits {
  /** Deliveries to take in all. */
  limit: number;
  /** How many more attempts each target (webhook or channel) may have in flight in this worker (absent: `perWebhook`). */
  room: ReadonlyMap<string, number>;
  perWebhook: number;
}

/**
 * Takes up to `limit` due deliveries (to webhooks and to notification channels alike), oldest due first, at
 * most as many of one webhook or channel as it has room for
 * (so one slow endpoint cannot take every slot), and, in the same statement, moves their `next_attempt_at`
 * on by `leaseSeconds` (a lease): other workers skip them meanwhile, and a worker that dies mid-attempt
 * leaves them due again when the lease ends, never lost. SKIP LOCKED lets several workers claim side by side.
 */
export async function claimDue(db: Executor, limits: ClaimLimits, leaseSeconds: number): Promise<ClaimedDelivery[]> {
  const busy = [...limits.room.keys()];
  const room = busy.map((id) => limits.room.get(id)!);
  const { rows } = await sql<ClaimedDelivery>`
    with room(webhook_id, free) as (select * from unnest(${busy}::uuid[], ${room}::int[])),
         ranked as (
           select d.id, d.next_attempt_at,
                  row_number() over (partition by coalesce(d.webhook_id, d.channel_id) order by d.next_attempt_at, d.id) as place,
                  coalesce(r.free, ${limits.perWebhook}::int) as free
             from webhook_deliveries d
             left join room r on r.webhook_id = coalesce(d.webhook_id, d.channel_id)
            where d.status = 'pending' and d.next_attempt_at <= now())
    update webhook_deliveries d
       set next_attempt_at = now() + make_interval(secs => ${leaseSeconds}::float8)
      from (select id from webhook_deliveries
             -- Due again here, not only in \`ranked\`: a row another worker leased meanwhile is re-read when
             -- locked, and only these conditions are checked on the new version.
             where id in (select id from ranked where place <= free) and status = 'pending' and next_attempt_at <= now()
             order by next_attempt_at, id
             limit ${limits.limit}::int
             for update skip locked) due
     where d.id = due.id
    returning d.id, coalesce(d.webhook_id, d.channel_id) as target_id, d.webhook_id, d.channel_id, d.event_id, d.event, d.attempt_count`.execute(db);
  return rows;
}

/** What an attempt needs: the webhook (with its encrypted secret) and the event, or undefined when gone. */
export const attemptTarget = (db: Executor, deliveryId: string) =>
  db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .select([
      'd.status',
      'w.id as webhook_id',
      'w.url',
      'w.active',
      'w.secret_ciphertext',
      'e.id',
      'e.type',
      'e.team_id',
      'e.data',
      'e.occurred_at',
      'e.traceparent',
      'e.tracestate',
    ])
    .where('d.id', '=', deliveryId)
    .executeTakeFirst();

export const lockWebhookForDelivery = (db: Executor, id: string) =>
  db.selectFrom('webhooks').select(['id', 'active', 'consecutive_failures']).where('id', '=', id).forNoKeyUpdate().executeTakeFirst();

/** A successful attempt: the webhook was reached now, and its failures in a row are over. */
export async function markDelivered(db: Executor, webhookId: string): Promise<void> {
  await db.updateTable('webhooks').set({ last_delivery_at: sql<Date>`now()` as never, consecutive_failures: 0 }).where('id', '=', webhookId).execute();
}

export const lockDelivery = (db: Executor, id: string) =>
  db.selectFrom('webhook_deliveries').select(['id', 'status', 'attempt_count']).where('id', '=', id).forUpdate().executeTakeFirst();

export const insertAttempt = (db: Executor, row: Omit<WebhookDeliveryAttemptRow, 'attempted_at'> & { attempted_at: Date }) =>
  db.insertInto('webhook_delivery_attempts').values(row).execute();

export const updateDelivery = (db: Executor, id: string, changes: Updateable<WebhookDeliveriesTable>) =>
  db.updateTable('webhook_deliveries').set(changes).where('id', '=', id).execute();
