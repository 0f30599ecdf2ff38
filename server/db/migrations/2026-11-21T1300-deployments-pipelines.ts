// Frozen: deployments (with their rollbacks) and pipelines with their numbered runs. Both are records of a
// team and go with it when the team is deleted (only agents, real hosts, hold a team back); runs go with
// their pipeline.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('deployments')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('service', 'varchar(100)', (c) => c.notNull())
    .addColumn('version', 'varchar(64)', (c) => c.notNull())
    .addColumn('environment', 'varchar(16)', (c) => c.notNull().check(sql`environment in ('development', 'staging', 'production')`))
    .addColumn('status', 'varchar(16)', (c) =>
      c.notNull().defaultTo('pending').check(sql`status in ('pending', 'running', 'succeeded', 'failed', 'rolled_back')`),
    )
    .addColumn('previous_version', 'varchar(64)')
    .addColumn('rollback_of', 'uuid', (c) => c.references('deployments.id'))
    .addColumn('started_at', ts)
    .addColumn('finished_at', ts)
    .addColumn('duration_seconds', 'integer')
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Lists page a team's deployments by creation; a new deployment looks up the last succeeded one of its
  // service and environment for its previous version.
  await db.schema.createIndex('deployments_team_created_idx').on('deployments').columns(['team_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('deployments_service_env_idx').on('deployments').columns(['team_id', 'service', 'environment', 'status', 'finished_at']).execute();
  // At most one rollback of a deployment is under way at a time, whatever races.
  await sql`create unique index deployments_one_active_rollback on deployments (rollback_of) where rollback_of is not null and status in ('pending', 'running')`.execute(db);

  await db.schema
    .createTable('pipelines')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('repository', 'varchar(255)', (c) => c.notNull())
    .addColumn('branch', 'varchar(255)', (c) => c.notNull().defaultTo('main'))
    .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('active').check(sql`status in ('active', 'paused', 'disabled')`))
    .addColumn('last_run_status', 'varchar(16)')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index pipelines_team_name_key on pipelines (team_id, lower(name))`.execute(db);
  await db.schema.createIndex('pipelines_team_created_idx').on('pipelines').columns(['team_id', 'created_at', 'id']).execute();

  await db.schema
    .createTable('pipeline_runs')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('pipeline_id', 'uuid', (c) => c.notNull().references('pipelines.id').onDelete('cascade'))
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) =>
      c.notNull().defaultTo('queued').check(sql`status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')`),
    )
    .addColumn('commit_sha', 'varchar(40)', (c) => c.notNull())
    .addColumn('started_at', ts)
    .addColumn('finished_at', ts)
    .addColumn('duration_seconds', 'integer')
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('pipeline_runs_pipeline_number_key', ['pipeline_id', 'number'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['pipeline_runs', 'pipelines', 'deployments']) await db.schema.dropTable(table).execute();
}
