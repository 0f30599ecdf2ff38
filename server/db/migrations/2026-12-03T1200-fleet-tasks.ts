// Frozen: fleet-wide tasks. A parent task (`kind = 'fleet'`, no agent) holds one child task per agent of its
// target (`parent_id`); children beyond the rollout's concurrency wait `held` (pending, but not claimable). The
// parent keeps its target and limits (`fleet`) and its children counted by state, updated under its row lock
// whenever a child moves. Tasks also record the template (and its version) they were made from.
import { sql, type Kysely } from 'kysely';

const COUNTS = ['fleet_total', 'fleet_pending', 'fleet_running', 'fleet_succeeded', 'fleet_failed', 'fleet_cancelled', 'fleet_skipped_offline'];

export async function up(db: Kysely<any>): Promise<void> {
  let alter = db.schema
    .alterTable('tasks')
    .addColumn('kind', 'varchar(8)', (c) => c.notNull().defaultTo('agent'))
    .addColumn('parent_id', 'uuid', (c) => c.references('tasks.id').onDelete('cascade'))
    .addColumn('held', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('template_id', 'uuid')
    .addColumn('template_version', 'integer')
    .addColumn('fleet', 'jsonb')
    .addColumn('stopped_reason', 'varchar(500)');
  for (const column of COUNTS) alter = alter.addColumn(column, 'integer', (c) => c.notNull().defaultTo(0));
  await alter.execute();
  await sql`alter table tasks alter column agent_id drop not null`.execute(db);
  await sql`alter table tasks add constraint tasks_kind_agent_check check ((kind = 'fleet') = (agent_id is null))`.execute(db);
  // A parent's children, listed by creation; and the next held child to release (never a scan past the released ones).
  await db.schema.createIndex('tasks_parent_created_idx').on('tasks').columns(['parent_id', 'created_at', 'id']).where(sql<boolean>`parent_id is not null`).execute();
  await db.schema.createIndex('tasks_held_idx').on('tasks').columns(['parent_id', 'created_at', 'id']).where(sql<boolean>`held`).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('tasks').where('kind', '=', 'fleet').execute();
  await db.schema.dropIndex('tasks_held_idx').execute();
  await db.schema.dropIndex('tasks_parent_created_idx').execute();
  await sql`alter table tasks drop constraint tasks_kind_agent_check`.execute(db);
  await sql`alter table tasks alter column agent_id set not null`.execute(db);
  let alter = db.schema.alterTable('tasks').dropColumn('kind').dropColumn('parent_id').dropColumn('held').dropColumn('template_id').dropColumn('template_version').dropColumn('fleet').dropColumn('stopped_reason');
  for (const column of COUNTS) alter = alter.dropColumn(column);
  await alter.execute();
}
