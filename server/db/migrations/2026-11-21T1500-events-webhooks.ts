// Frozen: the event outbox, webhooks and their deliveries. An event row is written in the transaction of
// the change that causes it (the transactional outbox), so a committed change always has its event, even
// when the process dies right after. The dispatcher gives each streamed event its stream position (`seq`,
// in dispatch order, for Last-Event-ID) and queues one delivery per subscribed webhook.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('events')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('type', 'varchar(40)', (c) => c.notNull())
    // The stream channel; null for events that are not streamed (webhook pings).
    .addColumn('channel', 'varchar(16)')
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('occurred_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('dispatched_at', ts)
    .addColumn('seq', 'bigint', (c) => c.unique())
    .execute();
  await db.schema.createIndex('events_undispatched_idx').on('events').columns(['occurred_at', 'id']).where(sql<boolean>`dispatched_at is null`).execute();
  await db.schema.createIndex('events_team_seq_idx').on('events').columns(['team_id', 'seq']).where(sql<boolean>`seq is not null`).execute();
  await db.schema.createIndex('events_occurred_idx').on('events').columns(['occurred_at']).execute();
  await sql`create sequence event_stream_seq`.execute(db);

  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('url', 'varchar(2048)', (c) => c.notNull())
    .addColumn('events', sql`varchar(40)[]`, (c) => c.notNull())
    .addColumn('description', 'varchar(500)')
    // The signing secret, encrypted (AES-256-GCM): it must be read back to sign, so it cannot be hashed.
    .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
    .addColumn('secret_hint', 'varchar(8)', (c) => c.notNull())
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('disabled_reason', 'varchar(500)')
    .addColumn('disabled_at', ts)
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_delivery_at', ts)
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('webhooks_team_created_idx').on('webhooks').columns(['team_id', 'created_at', 'id']).execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('webhook_id', 'uuid', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
    .addColumn('event_id', 'uuid', (c) => c.notNull().references('events.id').onDelete('cascade'))
    .addColumn('event', 'varchar(40)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('pending').check(sql`status in ('pending', 'succeeded', 'failed')`))
    .addColumn('attempt_count', 'integer', (c) => c.notNull().defaultTo(0))
    // While pending: when the next attempt is due. A worker that takes the delivery moves it past the
    // attempt's timeout (a lease), so a worker that dies mid-attempt leaves it due again, never lost.
    .addColumn('next_attempt_at', ts)
    .addColumn('last_status_code', 'integer')
    .addColumn('redelivery_of', 'uuid', (c) => c.references('webhook_deliveries.id').onDelete('set null'))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('completed_at', ts)
    .execute();
  await db.schema.createIndex('webhook_deliveries_due_idx').on('webhook_deliveries').columns(['next_attempt_at']).where(sql<boolean>`status = 'pending'`).execute();
  await db.schema.createIndex('webhook_deliveries_webhook_created_idx').on('webhook_deliveries').columns(['webhook_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('webhook_deliveries_event_idx').on('webhook_deliveries').columns(['event_id']).execute();

  await db.schema
    .createTable('webhook_delivery_attempts')
    .addColumn('delivery_id', 'uuid', (c) => c.notNull().references('webhook_deliveries.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('attempted_at', ts, (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('response_excerpt', 'varchar(1024)')
    .addColumn('error', 'varchar(500)')
    .addColumn('succeeded', 'boolean', (c) => c.notNull())
    .addPrimaryKeyConstraint('webhook_delivery_attempts_pkey', ['delivery_id', 'number'])
    .execute();

  // Keys this installation made for itself where configuration gave none (see server/auth/secret-box.ts).
  await db.schema
    .createTable('instance_keys')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('instance_keys').execute();
  await db.schema.dropTable('webhook_delivery_attempts').execute();
  await db.schema.dropTable('webhook_deliveries').execute();
  await db.schema.dropTable('webhooks').execute();
  await sql`drop sequence event_stream_seq`.execute(db);
  await db.schema.dropTable('events').execute();
}
