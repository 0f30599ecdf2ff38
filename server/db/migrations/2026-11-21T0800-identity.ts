// Frozen: identity and tenancy. Users, teams and memberships, refresh-token families, API keys, the
// audit log; agents move under teams (an existing fleet is adopted by a "Default" team).
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('teams')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(500)')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index teams_name_key on teams (lower(name))`.execute(db);

  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('email', 'varchar(254)', (c) => c.notNull())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('role', 'varchar(16)', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('password_changed_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index users_email_key on users (lower(email))`.execute(db);

  await db.schema
    .createTable('team_members')
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('joined_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('team_members_pkey', ['team_id', 'user_id'])
    .execute();
  await db.schema.createIndex('team_members_user_idx').on('team_members').column('user_id').execute();

  await db.schema
    .createTable('refresh_tokens')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('family_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('expires_at', ts, (c) => c.notNull())
    .addColumn('used_at', ts)
    .addColumn('revoked_at', ts)
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('refresh_tokens_family_idx').on('refresh_tokens').column('family_id').execute();
  await db.schema.createIndex('refresh_tokens_user_idx').on('refresh_tokens').column('user_id').execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('prefix', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('secret_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('scopes', sql`text[]`, (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', ts)
    .addColumn('expires_at', ts)
    .addColumn('revoked_at', ts)
    .execute();
  await db.schema.createIndex('api_keys_user_idx').on('api_keys').columns(['user_id', 'created_at']).execute();

  // No foreign keys: the log outlives the users, keys and resources it names.
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('actor_user_id', 'uuid')
    .addColumn('actor_api_key_id', 'uuid')
    .addColumn('actor_email', 'varchar(254)')
    .addColumn('operation_id', 'varchar(100)', (c) => c.notNull())
    .addColumn('method', 'varchar(8)', (c) => c.notNull())
    .addColumn('path', 'varchar(2048)', (c) => c.notNull())
    .addColumn('target_id', 'varchar(64)')
    .addColumn('team_id', 'uuid')
    .addColumn('request_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('outcome', 'varchar(8)', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('error_code', 'varchar(64)')
    .execute();
  await db.schema.createIndex('audit_events_at_idx').on('audit_events').columns(['at', 'id']).execute();
  await db.schema.createIndex('audit_events_actor_idx').on('audit_events').columns(['actor_user_id', 'at']).execute();
  await db.schema.createIndex('audit_events_target_idx').on('audit_events').columns(['target_id', 'at']).execute();

  await db.schema.alterTable('agents').addColumn('team_id', 'uuid', (c) => c.references('teams.id').onDelete('restrict')).execute();
  await sql`
    with adopted as (
      insert into teams (id, name, description)
      select gen_random_uuid(), 'Default', 'Adopted the agents that existed before teams.'
      where exists (select 1 from agents)
      returning id
    )
    update agents set team_id = (select id from adopted) where team_id is null`.execute(db);
  await db.schema.alterTable('agents').alterColumn('team_id', (c) => c.setNotNull()).execute();
  await db.schema.dropIndex('agents_hostname_key').execute();
  await sql`create unique index agents_team_hostname_key on agents (team_id, lower(hostname))`.execute(db);
  await db.schema.createIndex('agents_team_created_at_idx').on('agents').columns(['team_id', 'created_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('agents_team_created_at_idx').execute();
  await db.schema.dropIndex('agents_team_hostname_key').execute();
  await sql`create unique index agents_hostname_key on agents (lower(hostname))`.execute(db);
  await db.schema.alterTable('agents').dropColumn('team_id').execute();
  for (const table of ['audit_events', 'api_keys', 'refresh_tokens', 'team_members', 'users', 'teams']) {
    await db.schema.dropTable(table).execute();
  }
}
