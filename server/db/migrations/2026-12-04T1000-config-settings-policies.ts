// Frozen: the central configuration. A setting's value is one row per (scope, key): `scope_id` is the team or
// agent group it is stored for, or the nil UUID for the global scope, so an agent's values at every scope that
// applies to it are one primary-key lookup (`scope_id = any(…)`). Security policies belong to a team and are
// attached to the whole team (`group_id` null) or to one of its groups. Both go with their team or group.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('config_settings')
    .addColumn('scope_id', 'uuid', (c) => c.notNull())
    .addColumn('key', 'varchar(64)', (c) => c.notNull())
    .addColumn('scope', 'varchar(8)', (c) => c.notNull().check(sql`scope in ('global', 'team', 'group')`))
    .addColumn('team_id', 'uuid', (c) => c.references('teams.id').onDelete('cascade'))
    .addColumn('group_id', 'uuid', (c) => c.references('agent_groups.id').onDelete('cascade'))
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('config_settings_pkey', ['scope_id', 'key'])
    .execute();
  // The cascades' lookups.
  await sql`create index config_settings_team_idx on config_settings (team_id) where team_id is not null`.execute(db);
  await sql`create index config_settings_group_idx on config_settings (group_id) where group_id is not null`.execute(db);

  await db.schema
    .createTable('config_policies')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('group_id', 'uuid', (c) => c.references('agent_groups.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(500)')
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('rules', 'jsonb', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // A name is unique within its team, regardless of case; the index also serves "the policies of a team".
  await sql`create unique index config_policies_team_name_key on config_policies (team_id, lower(name))`.execute(db);
  await db.schema.createIndex('config_policies_team_created_idx').on('config_policies').columns(['team_id', 'created_at', 'id']).execute();
  await sql`create index config_policies_group_idx on config_policies (group_id) where group_id is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['config_policies', 'config_settings']) await db.schema.dropTable(table).execute();
}
