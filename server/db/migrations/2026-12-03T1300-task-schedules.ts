// Frozen: task schedules (a fleet-wide task request run on a cron expression in a time zone) and their executions,
// one per due time. `next_due_at` is the due time the scheduler waits for (null while disabled); the partial index
// is what every process's tick scans. UNIQUE (schedule_id, due_at) is the guard that makes a due time fire once,
// however many processes race for it.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('task_schedules')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(500)')
    .addColumn('cron', 'varchar(120)', (c) => c.notNull())
    .addColumn('timezone', 'varchar(64)', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('missed_runs', 'varchar(16)', (c) => c.notNull().check(sql`missed_runs in ('skip', 'run_once')`))
    .addColumn('run', 'jsonb', (c) => c.notNull())
    .addColumn('next_due_at', ts)
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index task_schedules_team_name_key on task_schedules (team_id, lower(name))`.execute(db);
  await db.schema.createIndex('task_schedules_team_created_idx').on('task_schedules').columns(['team_id', 'created_at', 'id']).execute();
  await sql`create index task_schedules_due_idx on task_schedules (next_due_at) where enabled and next_due_at is not null`.execute(db);

  await db.schema
    .createTable('task_schedule_executions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('schedule_id', 'uuid', (c) => c.notNull().references('task_schedules.id').onDelete('cascade'))
    .addColumn('due_at', ts, (c) => c.notNull())
    .addColumn('fired_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('task_id', 'uuid', (c) => c.references('tasks.id').onDelete('set null'))
    .addColumn('status', 'varchar(16)', (c) => c.notNull().check(sql`status in ('fired', 'skipped_missed', 'failed')`))
    .addColumn('missed', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('error', 'varchar(1000)')
    .addUniqueConstraint('task_schedule_executions_due_key', ['schedule_id', 'due_at'])
    .execute();
  // The executions of a task (ON DELETE SET NULL above scans by it).
  await db.schema.createIndex('task_schedule_executions_task_idx').on('task_schedule_executions').column('task_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['task_schedule_executions', 'task_schedules']) await db.schema.dropTable(table).execute();
}
