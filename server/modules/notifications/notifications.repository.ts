// Thin Kysely queries for notification channels and silences (scoped to the caller's teams), and the
// notification queue: which channels an alert event notifies, queued as deliveries of the outbox's
// `webhook_deliveries` table so the webhook deliverer sends and retries them.
import { sql, type Insertable, type Updateable } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { AlertSilenceRow, AlertSilencesTable, NotificationChannelRow, NotificationChannelsTable } from '../../db/schema.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { onlyTeams } from '../../db/team-scope.ts';
import { queueDeliveries } from '../webhooks/webhooks.repository.ts';

export const SORTABLE_FIELDS = ['created_at', 'updated_at'] as const;
export type NotificationSortField = (typeof SORTABLE_FIELDS)[number];

/** The alert events that notify channels. */
export const NOTIFIED_EVENTS: readonly string[] = ['alert.triggered', 'alert.resolved'];
export const isNotified = (type: string): boolean => NOTIFIED_EVENTS.includes(type);

const channelColumns = [
  'id',
  'team_id',
  'name',
  'kind',
  'webhook_id',
  'slack_url_ciphertext',
  'slack_url_hint',
  'email_to',
  'min_severity',
  'label_matchers',
  'enabled',
  'created_at',
  'updated_at',
] as const;

const silenceColumns = ['id', 'team_id', 'starts_at', 'ends_at', 'matchers', 'comment', 'created_by', 'created_at', 'updated_at'] as const;

export interface TeamFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
}

const column = (field: string) => sql.ref(field);

function channels(db: Executor, filter: TeamFilter) {
  let query = db.selectFrom('notification_channels').$call(onlyTeams(filter.teamIds));
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  return query;
}

function silences(db: Executor, filter: TeamFilter) {
  let query = db.selectFrom('alert_silences').$call(onlyTeams(filter.teamIds));
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  return query;
}

// ---- Channels ----

export const listChannels = (db: Executor, filter: TeamFilter, keys: SortKey<NotificationSortField>[], window: Window): Promise<NotificationChannelRow[]> =>
  pageOf(channels(db, filter).select(channelColumns), keys, window, column).execute();

export async function countChannels(db: Executor, filter: TeamFilter): Promise<number> {
  return (await channels(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findChannel = (db: Executor, id: string, teamIds: readonly string[]): Promise<NotificationChannelRow | undefined> =>
  channels(db, { teamIds }).select(channelColumns).where('id', '=', id).executeTakeFirst();

export const lockChannel = (db: Executor, id: string, teamIds: readonly string[]): Promise<NotificationChannelRow | undefined> =>
  channels(db, { teamIds }).select(channelColumns).where('id', '=', id).forNoKeyUpdate().executeTakeFirst();

export const insertChannel = (db: Executor, row: Insertable<NotificationChannelsTable>): Promise<NotificationChannelRow> =>
  db.insertInto('notification_channels').values(row).returning(channelColumns).executeTakeFirstOrThrow();

export const updateChannel = (db: Executor, id: string, changes: Updateable<NotificationChannelsTable>): Promise<NotificationChannelRow> =>
  db.updateTable('notification_channels').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id).returning(channelColumns).executeTakeFirstOrThrow();

export async function deleteChannel(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('notification_channels').where('id', '=', id).execute();
}

export async function webhookInTeam(db: Executor, webhookId: string, teamId: string): Promise<boolean> {
  return (await db.selectFrom('webhooks').select('id').where('id', '=', webhookId).where('team_id', '=', teamId).executeTakeFirst()) !== undefined;
}

// ---- Silences ----

export const listSilences = (db: Executor, filter: TeamFilter, keys: SortKey<NotificationSortField>[], window: Window): Promise<AlertSilenceRow[]> =>
  pageOf(silences(db, filter).select(silenceColumns), keys, window, column).execute();

export async function countSilences(db: Executor, filter: TeamFilter): Promise<number> {
  return (await silences(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findSilence = (db: Executor, id: string, teamIds: readonly string[]): Promise<AlertSilenceRow | undefined> =>
  silences(db, { teamIds }).select(silenceColumns).where('id', '=', id).executeTakeFirst();

export const lockSilence = (db: Executor, id: string, teamIds: readonly string[]): Promise<AlertSilenceRow | undefined> =>
  silences(db, { teamIds }).select(silenceColumns).where('id', '=', id).forUpdate().executeTakeFirst();

export const insertSilence = (db: Executor, row: Insertable<AlertSilencesTable>): Promise<AlertSilenceRow> =>
  db.insertInto('alert_silences').values(row).returning(silenceColumns).executeTakeFirstOrThrow();

export const updateSilence = (db: Executor, id: string, changes: Updateable<AlertSilencesTable>): Promise<AlertSilenceRow> =>
  db.updateTable('alert_silences').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id).returning(silenceColumns).executeTakeFirstOrThrow();

export async function deleteSilence(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('alert_silences').where('id', '=', id).execute();
}

// ---- The notification queue ----

/** Deliveries to channels, due now; answers their ids. */
export async function queueChannelDeliveries(db: Executor, rows: ReadonlyArray<{ channel_id: string; event_id: string; event: string }>): Promise<string[]> {
  if (rows.length === 0) return [];
  const ids = rows.map(() => uuidv7());
  await sql`
    insert into webhook_deliveries (id, channel_id, event_id, event, next_attempt_at)
    select t.*, now()
      from unnest(${ids}::uuid[], ${rows.map((r) => r.channel_id)}::uuid[], ${rows.map((r) => r.event_id)}::uuid[], ${rows.map((r) => r.event)}::text[])
        as t(id, channel_id, event_id, event)`.execute(db);
  return ids;
}

/**
 * Queues the notifications of these events (the dispatcher's batch, in its transaction): for each alert
 * event, every enabled channel of its team created before it, whose minimum severity the alert reaches and
 * whose label matchers its labels contain, unless a silence of the team active when the event happened
 * matches the alert's labels. A `webhook` channel queues a delivery of its webhook; the others, their own.
 * A webhook gets each event once, whatever the ways it is reached: one subscribed to the event already has its
 * delivery (the dispatcher queued it first, in this transaction), so a channel routed to it adds none, and two
 * channels routed to one webhook queue one delivery. Answers how many were queued.
 */
export async function queueNotifications(db: Executor, eventIds: readonly string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  const { rows } = await sql<{ channel_id: string; webhook_id: string | null; event_id: string; event: string }>`
    with e as (
      select id, type, team_id, occurred_at,
             case e.data->>'severity' when 'info' then 1 when 'warning' then 2 else 3 end as rank,
             case when jsonb_typeof(e.data->'labels') = 'object' then e.data->'labels' else '{}'::jsonb end as labels
        from events e
       where e.id = any(${[...eventIds]}::uuid[]) and e.type = any(${[...NOTIFIED_EVENTS]}::text[]))
    select c.id as channel_id, c.webhook_id, e.id as event_id, e.type as event
      from e
      join notification_channels c
        on c.team_id = e.team_id and c.enabled and c.created_at <= e.occurred_at
       and (case c.min_severity when 'info' then 1 when 'warning' then 2 else 3 end) <= e.rank
       and e.labels @> c.label_matchers
     where not exists (select 1 from alert_silences s
                        where s.team_id = e.team_id and s.starts_at <= e.occurred_at and s.ends_at > e.occurred_at and e.labels @> s.matchers)
       and (c.webhook_id is null
            or not exists (select 1 from webhook_deliveries d where d.webhook_id = c.webhook_id and d.event_id = e.id and d.redelivery_of is null))
     order by e.occurred_at, e.id`.execute(db);
  const toWebhook = new Map<string, { webhook_id: string; event_id: string; event: string }>();
  for (const r of rows) if (r.webhook_id) toWebhook.set(`${r.webhook_id} ${r.event_id}`, { webhook_id: r.webhook_id, event_id: r.event_id, event: r.event });
  const toWebhooks = [...toWebhook.values()];
  const toChannels = rows.filter((r) => !r.webhook_id);
  await queueDeliveries(db, toWebhooks);
  await queueChannelDeliveries(db, toChannels);
  return toWebhooks.length + toChannels.length;
}

/** What an attempt to a channel needs: the channel (with its sealed URL) and the event; undefined when gone. */
export const channelAttemptTarget = (db: Executor, deliveryId: string) =>
  db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('notification_channels as c', 'c.id', 'd.channel_id')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .select([
      'd.status',
      'c.id as channel_id',
      'c.name as channel_name',
      'c.kind',
      'c.enabled',
      'c.slack_url_ciphertext',
      'c.email_to',
      'e.id',
      'e.type',
      'e.team_id',
      'e.data',
      'e.occurred_at',
    ])
    .where('d.id', '=', deliveryId)
    .executeTakeFirst();

export type ChannelAttemptTarget = NonNullable<Awaited<ReturnType<typeof channelAttemptTarget>>>;
