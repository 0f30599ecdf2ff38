// Frozen: metric names as data, labels, hourly rollups, and dashboards.
// - A metric's name is any name the contract's pattern allows (up to 100 characters), and a sample carries labels
//   (`{}` when it has none): the same metric and time with other labels is another sample, so the labels join the
//   primary key (after `at`, so a series read still seeks by agent, name and time).
// - `agent_metric_rollups` holds, per agent, metric, labels and hour, the count, sum, min and max of the samples:
//   fleet-wide queries read 60 times fewer rows from it. Ingest appends a mark (metric, hour) for every hour it
//   writes to; a worker takes the marks and recomputes those hours, and a query reads a marked hour from the
//   samples, so its answer never depends on how far behind the worker is. Marks are appended, never upserted: a
//   mark can then never be taken before the samples it stands for are visible (see inventory.repository.ts).
// - `dashboards`: a team's saved layouts of metric queries, versioned.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table agent_metrics alter column name type varchar(100)`.execute(db);
  await sql`alter table agent_metrics add column labels jsonb not null default '{}'::jsonb`.execute(db);
  await sql`alter table agent_metrics drop constraint agent_metrics_pkey`.execute(db);
  await sql`alter table agent_metrics add constraint agent_metrics_pkey primary key (agent_id, name, at, labels)`.execute(db);

  await db.schema
    .createTable('agent_metric_rollups')
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('bucket', ts, (c) => c.notNull())
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('labels', 'jsonb', (c) => c.notNull())
    .addColumn('samples', 'integer', (c) => c.notNull())
    .addColumn('sum', 'double precision', (c) => c.notNull())
    .addColumn('min', 'double precision', (c) => c.notNull())
    .addColumn('max', 'double precision', (c) => c.notNull())
    // A query reads some metrics over a range of hours for many agents.
    .addPrimaryKeyConstraint('agent_metric_rollups_pkey', ['name', 'bucket', 'agent_id', 'labels'])
    .execute();
  // Deleting an agent deletes its rollups without scanning them all.
  await db.schema.createIndex('agent_metric_rollups_agent_idx').on('agent_metric_rollups').columns(['agent_id', 'bucket']).execute();

  await db.schema
    .createTable('agent_metric_rollup_marks')
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('bucket', ts, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('agent_metric_rollup_marks_idx').on('agent_metric_rollup_marks').columns(['name', 'bucket']).execute();
  // The samples already stored are rolled up by the worker's first run.
  await sql`
    insert into agent_metric_rollup_marks (name, bucket)
    select distinct name, date_bin('1 hour', at, timestamptz '1970-01-01T00:00:00Z') from agent_metrics`.execute(db);

  await db.schema
    .createTable('dashboards')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(1000)')
    .addColumn('panels', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index dashboards_team_name_key on dashboards (team_id, lower(name))`.execute(db);
  await db.schema.createIndex('dashboards_team_created_idx').on('dashboards').columns(['team_id', 'created_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('dashboards').execute();
  await db.schema.dropTable('agent_metric_rollup_marks').execute();
  await db.schema.dropTable('agent_metric_rollups').execute();
  // Samples that differ only by labels cannot all stay under the old key: the labelled ones go.
  await sql`delete from agent_metrics where labels <> '{}'::jsonb`.execute(db);
  await sql`alter table agent_metrics drop constraint agent_metrics_pkey`.execute(db);
  await sql`alter table agent_metrics add constraint agent_metrics_pkey primary key (agent_id, name, at)`.execute(db);
  await sql`alter table agent_metrics drop column labels`.execute(db);
}
