// Frozen: task artifacts. The metadata of each file an agent uploaded for a task, and its bytes in chunks (one
// row per chunk, written as the upload arrives). Both go with their task (ON DELETE CASCADE).
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('task_artifacts')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('task_id', 'uuid', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'char(64)', (c) => c.notNull())
    // The size of its chunks (all but the last), so a byte range reads only the chunks it spans.
    .addColumn('chunk_bytes', 'integer', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('task_artifacts_task_name_key', ['task_id', 'name'])
    .execute();
  // Retention deletes by age.
  await db.schema.createIndex('task_artifacts_created_idx').on('task_artifacts').column('created_at').execute();

  // The chunks are written before their artifact's row (which is written last, with the size and the digest): the
  // reference is checked at commit.
  await db.schema
    .createTable('task_artifact_chunks')
    .addColumn('artifact_id', 'uuid', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('task_artifact_chunks_pkey', ['artifact_id', 'seq'])
    .execute();
  await sql`alter table task_artifact_chunks add constraint task_artifact_chunks_artifact_fkey
    foreign key (artifact_id) references task_artifacts (id) on delete cascade deferrable initially deferred`.execute(db);
  // Chunks are already compressed files more often than not: stored as they are, out of line.
  await sql`alter table task_artifact_chunks alter column data set storage external`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['task_artifact_chunks', 'task_artifacts']) await db.schema.dropTable(table).execute();
}
