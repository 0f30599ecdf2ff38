// Kysely's PostgreSQL dialect, with the one piece of session state Kysely itself would hold taken out, so that
// Opsdeck runs through a pooler in transaction mode (PgBouncer's `pool_mode=transaction`), where each
// transaction may get another server connection: Kysely's migrator takes a session-level advisory lock
// (`pg_advisory_lock`) on one statement and releases it on another, which through such a pooler may lock one server
// connection, unlock (in vain) another, and leave the lock held by a pooled connection for good. Here the lock is
// `pg_advisory_xact_lock`, taken in the migrations' own transaction (db/migrator.ts runs the migrator in one) and
// released by its commit or rollback, whatever happens.
//
// The rest of Opsdeck keeps to what transaction pooling allows: pg's queries are unnamed statements (no `name:`),
// nothing is SET outside a transaction, every advisory lock is a transaction's (`pg_advisory_xact_lock`,
// `pg_try_advisory_xact_lock`), and no LISTEN (the change feed is a polled table). The statement timeout, a
// session setting, is not sent as a start-up parameter when DATABASE_TRANSACTION_POOLING is on (db/database.ts).
import { PostgresAdapter, PostgresDialect, sql, type DialectAdapter, type Kysely } from 'kysely';

/** The advisory lock of migrations: Kysely's own key, so a migration run by Kysely's defaults elsewhere still excludes ours. */
const MIGRATION_LOCK = 3853314791062309107n;

/** Takes the migrations' lock until the end of the transaction `trx` (waiting for another process's migrations to end). */
export async function lockMigrations(trx: Kysely<any>): Promise<void> {
  if (!trx.isTransaction) throw new Error('migrations take their lock inside their transaction: run the migrator on a transaction');
  await sql`select pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK)})`.execute(trx);
}

class TransactionLockAdapter extends PostgresAdapter {
  override async acquireMigrationLock(db: Kysely<any>): Promise<void> {
    await lockMigrations(db);
  }

  override async releaseMigrationLock(): Promise<void> {
    // Released by the transaction's end.
  }
}

export class OpsdeckPostgresDialect extends PostgresDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionLockAdapter();
  }
}
