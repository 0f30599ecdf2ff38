// Frozen: the agent protocol and tasks. Enrollment tokens per team, one key per enrolled agent,
// tasks as long-running operations with their log lines.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('enrollment_tokens')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('prefix', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('secret_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_uses', 'integer')
    .addColumn('expires_at', ts, (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', ts)
    .execute();
  await db.schema.createIndex('enrollment_tokens_team_idx').on('enrollment_tokens').columns(['team_id', 'created_at']).execute();

  await db.schema
    .createTable('agent_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('prefix', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('secret_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', ts)
    .execute();
  await db.schema.createIndex('agent_keys_agent_idx').on('agent_keys').column('agent_id').execute();

  await db.schema
    .createTable('tasks')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('type', 'varchar(16)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('pending'))
    .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('eta', ts)
    .addColumn('parameters', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('result', 'jsonb')
    .addColumn('error', 'varchar(1000)')
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('retry_of', 'uuid')
    .addColumn('queued_offline', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', ts)
    .addColumn('finished_at', ts)
    .execute();
  // Claims look for an agent's oldest pending tasks; lists page a team's tasks by creation.
  await db.schema.createIndex('tasks_agent_status_idx').on('tasks').columns(['agent_id', 'status', 'created_at', 'id']).execute();
  await db.schema.createIndex('tasks_team_created_idx').on('tasks').columns(['team_id', 'created_at', 'id']).execute();

  await db.schema
    .createTable('task_logs')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('task_id', 'uuid', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('line', 'varchar(4096)', (c) => c.notNull())
    .addUniqueConstraint('task_logs_task_seq_key', ['task_id', 'seq'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['task_logs', 'tasks', 'agent_keys', 'enrollment_tokens']) await db.schema.dropTable(table).execute();
}
