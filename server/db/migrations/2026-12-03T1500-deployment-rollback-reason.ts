// Frozen: a rollback keeps why it was asked for and on whose behalf (`rollbackDeployment`'s optional body;
// `requested_by` defaults to the caller's email). Both stay null on deployments that are no rollbacks.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('deployments').addColumn('reason', 'varchar(500)').addColumn('requested_by', 'varchar(254)').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('deployments').dropColumn('reason').dropColumn('requested_by').execute();
}
