// A part of a transaction that can fail on its own.
import { sql } from 'kysely';
import type { Executor } from './executor.ts';

/** Runs `work` inside a savepoint of the current transaction: on failure, only its own writes are undone. */
export async function inSavepoint<T>(trx: Executor, name: string, work: () => Promise<T>): Promise<T> {
  await sql`savepoint ${sql.id(name)}`.execute(trx);
  try {
    const result = await work();
    await sql`release savepoint ${sql.id(name)}`.execute(trx);
    return result;
  } catch (err) {
    await sql`rollback to savepoint ${sql.id(name)}`.execute(trx);
    throw err;
  }
}
