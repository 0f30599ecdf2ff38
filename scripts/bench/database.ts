// The throw-away database of one bench run: created fresh on the admin connection, migrated with
// Opsdeck's own migrations, dropped at the end (even when the run fails or is interrupted).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../../server/db/database.ts';
import { migrateToLatest } from '../../server/db/migrator.ts';
import { createLogger } from '../../server/logger.ts';

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export class DatabaseUnreachableError extends Error {}

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

async function adminClient(adminUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  // A connection that breaks after connect must not crash the run; the next query reports it.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    await client.end().catch(() => {});
    throw new DatabaseUnreachableError(err instanceof Error ? err.message : String(err));
  }
  return client;
}

function withDatabase(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Creates `opsdeck_bench_<random>` and applies Opsdeck's migrations to it. `onCreated` hears of the
 * database as soon as it exists, so an interrupt during the migrations can still drop it.
 */
export async function createBenchDatabase(adminUrl: string, onCreated?: (database: BenchDatabase) => void): Promise<BenchDatabase> {
  const admin = await adminClient(adminUrl);
  const name = `opsdeck_bench_${randomBytes(5).toString('hex')}`;
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end().catch(() => {});
  }

  let dropped: Promise<void> | undefined;
  const database: BenchDatabase = {
    name,
    url: withDatabase(adminUrl, name),
    drop: () =>
      (dropped ??= (async () => {
        const client = await adminClient(adminUrl);
        try {
          // FORCE (PostgreSQL 13+) ends connections a crashed child may have left behind.
          await client.query(`drop database if exists ${name} with (force)`).catch(async (err: unknown) => {
            if ((err as { code?: string }).code !== '42601') throw err;
            await client.query(`drop database if exists ${name}`);
          });
        } finally {
          await client.end().catch(() => {});
        }
      })()),
  };

  onCreated?.(database);
  try {
    const handle = await openDatabase({ url: database.url, pgliteDir: 'memory://', poolMax: 2, timeoutMs: 30_000, log: createLogger('silent') });
    try {
      await migrateToLatest(handle.db, createLogger('silent'));
    } finally {
      await handle.close();
    }
  } catch (err) {
    await database.drop().catch(() => {});
    throw err;
  }
  return database;
}
