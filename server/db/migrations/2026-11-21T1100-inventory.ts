// Frozen: what agents report about themselves. Packages, services and hardware hold the last inventory
// report of each agent (a report replaces them); metric samples are a time series per agent and metric.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('agent_packages')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('version', 'varchar(100)', (c) => c.notNull())
    .addColumn('available_version', 'varchar(100)')
    // '' when the agent did not say, so the unique key below holds without NULLs.
    .addColumn('architecture', 'varchar(32)', (c) => c.notNull().defaultTo(''))
    // The version's runs of digits as numbers: `1.20.1` → {1,20,1}, compared element by element, so
    // `version_gt`/`version_lt` filters compare versions numerically, part by part.
    .addColumn('version_key', sql`numeric[]`, (c) =>
      c.notNull().generatedAlwaysAs(sql`array_remove(regexp_split_to_array(version, '[^0-9]+'), '')::numeric[]`).stored(),
    )
    .addUniqueConstraint('agent_packages_agent_name_key', ['agent_id', 'name', 'version', 'architecture'])
    .execute();
  // Fleet-wide search by exact name, and the packages waiting for an update.
  await db.schema.createIndex('agent_packages_name_idx').on('agent_packages').columns(['name', 'agent_id']).execute();
  await sql`create index agent_packages_updates_idx on agent_packages (name, version, available_version) where available_version is not null`.execute(db);

  await db.schema
    .createTable('agent_services')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull())
    .addUniqueConstraint('agent_services_agent_name_key', ['agent_id', 'name'])
    .execute();

  await db.schema
    .createTable('agent_hardware')
    .addColumn('agent_id', 'uuid', (c) => c.primaryKey().references('agents.id').onDelete('cascade'))
    .addColumn('cpu_model', 'varchar(200)', (c) => c.notNull())
    .addColumn('cpu_cores', 'integer', (c) => c.notNull())
    .addColumn('memory_bytes', 'bigint', (c) => c.notNull())
    .addColumn('disk_bytes', 'bigint', (c) => c.notNull())
    .addColumn('architecture', 'varchar(32)')
    .addColumn('virtualization', 'varchar(64)')
    .addColumn('manufacturer', 'varchar(200)')
    .addColumn('model', 'varchar(200)')
    .addColumn('reported_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // One sample per agent, metric and time; the key is also the index every series query walks.
  await db.schema
    .createTable('agent_metrics')
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('name', 'varchar(32)', (c) => c.notNull())
    .addColumn('at', ts, (c) => c.notNull())
    .addColumn('value', 'double precision', (c) => c.notNull())
    .addPrimaryKeyConstraint('agent_metrics_pkey', ['agent_id', 'name', 'at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['agent_metrics', 'agent_hardware', 'agent_services', 'agent_packages']) await db.schema.dropTable(table).execute();
}
