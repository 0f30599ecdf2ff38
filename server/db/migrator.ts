import { sql, type Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Logger } from '../logger.ts';
import { migrations } from './migrations/index.ts';
import { lockMigrations } from './postgres-dialect.ts';

/** Whether every migration is applied already: one query, where Kysely's migrator takes a dozen round trips and a lock to find out. */
async function upToDate(db: Kysely<any>): Promise<boolean> {
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    const applied = new Set(rows.map((row) => row.name));
    return Object.keys(migrations).every((name) => applied.has(name));
  } catch {
    return false; // no migration table yet: a new database
  }
}

/**
 * Applies every pending migration; throws when one fails (the server must not start on a half-migrated schema).
 * All of them in one transaction, which also holds the lock that keeps other processes from migrating at the same
 * time (a transaction's advisory lock: db/postgres-dialect.ts), so it works through PgBouncer in transaction mode.
 */
export async function migrateToLatest(db: Kysely<any>, log: Logger): Promise<void> {
  if (await upToDate(db)) return;
  await db.transaction().execute(async (trx) => {
    // First, so that creating Kysely's own tables in a new database is not raced by another process either.
    await lockMigrations(trx);
    const migrator = new Migrator({ db: trx, provider: { getMigrations: async () => migrations } });
    const { error, results } = await migrator.migrateToLatest();
    for (const r of results ?? []) {
      log.info({ migration: r.migrationName, status: r.status }, 'migration');
    }
    if (error) throw error instanceof Error ? error : new Error(String(error));
  });
}
