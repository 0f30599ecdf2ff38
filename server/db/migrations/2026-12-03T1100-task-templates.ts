// Frozen: task templates and their versions. A template row holds its current version; every version, the
// first included, is also a row of task_template_versions, which never changes. Deleting a template only
// marks it (deleted_at) so the versions that tasks ran stay there; its name is free again at once.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('task_templates')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(500)')
    .addColumn('action', 'varchar(32)', (c) => c.notNull())
    .addColumn('defaults', 'jsonb', (c) => c.notNull())
    .addColumn('parameters_schema', 'jsonb', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', ts)
    .execute();
  // A name is unique among a team's live templates, regardless of case.
  await sql`create unique index task_templates_team_name_key on task_templates (team_id, lower(name)) where deleted_at is null`.execute(db);
  await sql`create index task_templates_team_created_idx on task_templates (team_id, created_at, id) where deleted_at is null`.execute(db);

  await db.schema
    .createTable('task_template_versions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('template_id', 'uuid', (c) => c.notNull().references('task_templates.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(500)')
    .addColumn('action', 'varchar(32)', (c) => c.notNull())
    .addColumn('defaults', 'jsonb', (c) => c.notNull())
    .addColumn('parameters_schema', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('task_template_versions_template_version_key', ['template_id', 'version'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['task_template_versions', 'task_templates']) await db.schema.dropTable(table).execute();
}
