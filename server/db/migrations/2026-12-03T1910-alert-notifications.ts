// Frozen: alert notifications. A team's notification channels (a webhook of the team, a Slack-compatible
// incoming webhook whose URL is stored encrypted, or email addresses) with their routing (minimum severity,
// label equality), silences, and the channel a delivery goes to: a notification is a row of
// `webhook_deliveries` (the outbox's deliveries, claimed, retried and recorded as webhook deliveries are) with
// `channel_id` instead of `webhook_id`.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('notification_channels')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull().check(sql`kind in ('webhook', 'slack', 'email')`))
    .addColumn('webhook_id', 'uuid', (c) => c.references('webhooks.id').onDelete('cascade'))
    .addColumn('slack_url_ciphertext', 'text')
    .addColumn('slack_url_hint', 'varchar(8)')
    .addColumn('email_to', sql`text[]`)
    .addColumn('min_severity', 'varchar(16)', (c) => c.notNull().defaultTo('info').check(sql`min_severity in ('info', 'warning', 'critical')`))
    .addColumn('label_matchers', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint(
      'notification_channels_kind_target',
      sql`(kind = 'webhook') = (webhook_id is not null) and (kind = 'slack') = (slack_url_ciphertext is not null) and (kind = 'email') = (email_to is not null)`,
    )
    .execute();
  await db.schema.createIndex('notification_channels_team_created_idx').on('notification_channels').columns(['team_id', 'created_at', 'id']).execute();

  await db.schema
    .createTable('alert_silences')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('starts_at', ts, (c) => c.notNull())
    .addColumn('ends_at', ts, (c) => c.notNull())
    .addColumn('matchers', 'jsonb', (c) => c.notNull())
    .addColumn('comment', 'varchar(1000)', (c) => c.notNull())
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('alert_silences_window', sql`ends_at > starts_at`)
    .execute();
  await db.schema.createIndex('alert_silences_team_created_idx').on('alert_silences').columns(['team_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('alert_silences_team_ends_idx').on('alert_silences').columns(['team_id', 'ends_at']).execute();

  await db.schema
    .alterTable('webhook_deliveries')
    .addColumn('channel_id', 'uuid', (c) => c.references('notification_channels.id').onDelete('cascade'))
    .execute();
  await db.schema.alterTable('webhook_deliveries').alterColumn('webhook_id', (c) => c.dropNotNull()).execute();
  await db.schema
    .alterTable('webhook_deliveries')
    .addCheckConstraint('webhook_deliveries_one_target', sql`(webhook_id is null) <> (channel_id is null)`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('webhook_deliveries').where('channel_id', 'is not', null).execute();
  await db.schema.alterTable('webhook_deliveries').dropConstraint('webhook_deliveries_one_target').execute();
  await db.schema.alterTable('webhook_deliveries').alterColumn('webhook_id', (c) => c.setNotNull()).execute();
  await db.schema.alterTable('webhook_deliveries').dropColumn('channel_id').execute();
  await db.schema.dropTable('alert_silences').execute();
  await db.schema.dropTable('notification_channels').execute();
}
