// Frozen: the rate-limit tier of a user (and of its API keys).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('rate_tier', 'varchar(16)', (c) => c.notNull().defaultTo('standard')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('rate_tier').execute();
}
