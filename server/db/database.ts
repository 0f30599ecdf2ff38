// One Kysely instance over either a real PostgreSQL (pg pool) or the embedded PGlite. The same
// migrations and queries serve both; only the driver differs.
import { mkdirSync } from 'node:fs';
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import type { Database } from './schema.ts';

export type Backend = 'postgresql' | 'pglite';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly backend: Backend;
  /** Resolves with the round-trip time, or rejects when the database does not answer within `timeoutMs`. */
  ping(timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string | undefined;
  pgliteDir: string;
  poolMax: number;
  timeoutMs: number;
  log: Logger;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const db = options.url ? postgres(options) : await pglite(options);
  const handle: DatabaseHandle = {
    db,
    backend: options.url ? 'postgresql' : 'pglite',
    async ping(timeoutMs) {
      const started = performance.now();
      await withTimeout(sql`select 1`.execute(db), timeoutMs, `database did not answer within ${timeoutMs} ms`);
      return Math.round(performance.now() - started);
    },
    close: () => db.destroy(),
  };
  return handle;
}

function postgres(options: DatabaseOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.timeoutMs,
    // Client-side: a query on a connection that went silent fails instead of hanging the request.
    query_timeout: options.timeoutMs,
    statement_timeout: options.timeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle connection that breaks (server restart, network cut) must not crash the process;
  // the pool drops it and opens a new one on the next request.
  pool.on('error', (err) => options.log.warn({ err: err.message }, 'idle database connection lost'));
  // A connection that breaks while checked out also emits 'error' on its client; the query fails and
  // is answered 503, so the event itself only needs a listener to keep it from crashing the process.
  pool.on('connect', (client) => client.on('error', (err) => options.log.warn({ err: err.message }, 'database connection lost')));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

async function pglite(options: DatabaseOptions): Promise<Kysely<Database>> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (options.pgliteDir !== 'memory://') mkdirSync(options.pgliteDir, { recursive: true });
  const instance = await PGlite.create(options.pgliteDir);
  return new Kysely<Database>({ dialect: new PGliteDialect({ pglite: instance }) });
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
