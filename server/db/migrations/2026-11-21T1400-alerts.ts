// Frozen: alerts. A team's alerts, optionally about one of its agents, with their acknowledgement and
// resolution. At most one unresolved alert of a team carries a given fingerprint (a partial unique
// index), so a sender cannot raise the same open problem twice, not even in racing requests.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('alerts')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    // Deleting an agent keeps its alerts (they are history), no longer tied to it.
    .addColumn('agent_id', 'uuid', (c) => c.references('agents.id').onDelete('set null'))
    .addColumn('title', 'varchar(200)', (c) => c.notNull())
    .addColumn('message', 'varchar(2000)')
    .addColumn('severity', 'varchar(16)', (c) => c.notNull().check(sql`severity in ('info', 'warning', 'critical')`))
    .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('open').check(sql`status in ('open', 'acknowledged', 'resolved')`))
    .addColumn('source', 'varchar(64)')
    .addColumn('fingerprint', 'varchar(255)')
    .addColumn('acknowledged_by', 'uuid')
    .addColumn('acknowledged_at', ts)
    .addColumn('resolved_by', 'uuid')
    .addColumn('resolved_at', ts)
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('alerts_team_fingerprint_unresolved_key')
    .on('alerts')
    .columns(['team_id', 'fingerprint'])
    .unique()
    .where(sql<boolean>`status <> 'resolved'`)
    .execute();
  // Lists page a team's alerts by creation, often narrowed to a status or an agent.
  await db.schema.createIndex('alerts_team_created_idx').on('alerts').columns(['team_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('alerts_team_status_created_idx').on('alerts').columns(['team_id', 'status', 'created_at', 'id']).execute();
  await db.schema.createIndex('alerts_agent_created_idx').on('alerts').columns(['agent_id', 'created_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('alerts').execute();
}
