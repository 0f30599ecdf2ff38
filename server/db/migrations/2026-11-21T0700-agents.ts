// Frozen: a migration never changes once released; a change of schema is a new migration.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('agents')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('hostname', 'varchar(253)', (c) => c.notNull())
    .addColumn('ip_address', sql`inet`, (c) => c.notNull())
    .addColumn('platform', 'varchar(16)', (c) => c.notNull())
    .addColumn('os_version', 'varchar(128)')
    .addColumn('agent_version', 'varchar(64)')
    .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('offline'))
    .addColumn('tags', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    // Millisecond precision, so a time read into a JS Date and written back into a cursor compares exactly.
    .addColumn('last_seen', sql`timestamptz(3)`)
    .addColumn('created_at', sql`timestamptz(3)`, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', sql`timestamptz(3)`, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index agents_hostname_key on agents (lower(hostname))`.execute(db);
  await db.schema.createIndex('agents_created_at_id_idx').on('agents').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('agents_status_created_at_idx').on('agents').columns(['status', 'created_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('agents').execute();
}
