// Frozen: package vulnerabilities. Advisories (OSV documents) are global and kept by id, with what matching
// reads of them pulled out into columns; each affected package of an advisory is a row, looked up by name.
// Reported packages gain their ecosystem. Matches (an installed package an advisory affects) are stored when
// an inventory report or an import arrives, because deciding one needs each ecosystem's version order, which
// lives in the server's libraries, not in SQL; they go with their agent or advisory.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('advisories')
    .addColumn('id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('aliases', sql`varchar(128)[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('summary', 'varchar(1024)')
    .addColumn('severity', 'varchar(16)', (c) => c.notNull())
    // unknown 0, low 1, medium 2, high 3, critical 4: the order of `sort=severity`.
    .addColumn('severity_rank', 'smallint', (c) => c.notNull())
    .addColumn('modified_at', ts, (c) => c.notNull())
    .addColumn('published_at', ts)
    .addColumn('withdrawn_at', ts)
    // The whole document as imported, fields Opsdeck does not read included.
    .addColumn('document', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // `advisory_id=CVE-…` finds an advisory by alias.
  await sql`create index advisories_aliases_idx on advisories using gin (aliases)`.execute(db);

  await db.schema
    .createTable('advisory_packages')
    .addColumn('advisory_id', 'varchar(128)', (c) => c.notNull().references('advisories.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('ecosystem', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('ranges', 'jsonb', (c) => c.notNull())
    .addColumn('versions', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('advisory_packages_pkey', ['advisory_id', 'position'])
    .execute();
  await db.schema.createIndex('advisory_packages_name_idx').on('advisory_packages').columns(['name', 'ecosystem']).execute();

  // '' when neither the agent nor its operating system says (such a package matches nothing).
  await db.schema.alterTable('agent_packages').addColumn('ecosystem', 'varchar(64)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('agent_packages').dropConstraint('agent_packages_agent_name_key').execute();
  await db.schema.alterTable('agent_packages').addUniqueConstraint('agent_packages_agent_name_key', ['agent_id', 'name', 'version', 'architecture', 'ecosystem']).execute();

  await db.schema
    .createTable('package_vulnerabilities')
    // No foreign key to the package: checking one locks each package row an import matches (measured: 6× the
    // cost of the insert at 1,000 agents). An agent's matches are rewritten with its packages, in the report's
    // transaction, and go with the agent.
    .addColumn('package_id', 'uuid', (c) => c.notNull())
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('advisory_id', 'varchar(128)', (c) => c.notNull().references('advisories.id').onDelete('cascade'))
    .addColumn('fixed_versions', sql`varchar(100)[]`, (c) => c.notNull())
    .addPrimaryKeyConstraint('package_vulnerabilities_pkey', ['package_id', 'advisory_id'])
    .execute();
  await db.schema.createIndex('package_vulnerabilities_agent_idx').on('package_vulnerabilities').column('agent_id').execute();
  await db.schema.createIndex('package_vulnerabilities_advisory_idx').on('package_vulnerabilities').column('advisory_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('package_vulnerabilities').execute();
  await db.schema.alterTable('agent_packages').dropConstraint('agent_packages_agent_name_key').execute();
  await db.schema.alterTable('agent_packages').dropColumn('ecosystem').execute();
  await db.schema.alterTable('agent_packages').addUniqueConstraint('agent_packages_agent_name_key', ['agent_id', 'name', 'version', 'architecture']).execute();
  await db.schema.dropTable('advisory_packages').execute();
  await db.schema.dropTable('advisories').execute();
}
