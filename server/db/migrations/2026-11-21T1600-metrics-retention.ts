// Frozen: an index on the time of metric samples, so retention deletes the oldest ones without scanning
// the table (the primary key leads with the agent).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('agent_metrics_at_idx').on('agent_metrics').column('at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('agent_metrics_at_idx').execute();
}
