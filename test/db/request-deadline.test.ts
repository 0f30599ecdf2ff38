// The database part of a request has one deadline (withDatabaseDeadline): DB_TIMEOUT_MS from its first use
// of the database, whatever the number of stages (waiting for a connection, queries, transactions) it
// goes through; once the request has answered, what it still does with the database is on its own
// deadlines again. On a fresh database behind a proxy that plays a hung PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { openDatabase, withDatabaseDeadline, type DatabaseHandle } from '../../server/db/database.ts';
import { isDatabaseUnavailable } from '../../server/db/errors.ts';
import { createLogger } from '../../server/logger.ts';

const TIMEOUT_MS = 1000;
const MARGIN_MS = 300;

let database: TestDatabase;
let proxy: TcpProxy | undefined;
let handle: DatabaseHandle | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
  if (!database.url) return;
  const target = new URL(database.url);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const viaProxy = new URL(database.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  handle = await openDatabase({ url: viaProxy.toString(), pgliteDir: 'memory://', poolMax: 2, timeoutMs: TIMEOUT_MS, log: createLogger('silent') });
});
afterAll(async () => {
  proxy?.restore();
  await handle?.close();
  await proxy?.close();
  await database?.drop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function failure(work: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await work().then(
    () => undefined,
    (err: unknown) => err,
  );
  return { error, ms: performance.now() - started };
}

describe('withDatabaseDeadline', () => {
  it('gives the stages of a request one deadline, not one each', async (ctx) => {
    if (!handle || !proxy) return ctx.skip('needs a real PostgreSQL');
    const db = handle.db;
    const { error, ms } = await failure(() =>
      withDatabaseDeadline(async () => {
        await sql`select pg_sleep(0.6)`.execute(db);
        proxy!.hang();
        await db.transaction().execute(async (trx) => sql`select 1`.execute(trx));
      }),
    );
    proxy.restore();
    expect(isDatabaseUnavailable(error), String(error)).toBe(true);
    expect(ms).toBeGreaterThan(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    // The connection that went silent was dropped, the other is fine: the pool serves at once.
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows[0]?.one).toBe(1);
  });

  it('starts no database work past the deadline, until the request has answered', async (ctx) => {
    if (!handle || !proxy) return ctx.skip('needs a real PostgreSQL');
    const db = handle.db;
    let answered = false;
    await withDatabaseDeadline(
      async () => {
        await sql`select 1`.execute(db);
        await sleep(TIMEOUT_MS + 100);
        const late = await failure(() => sql`select 1`.execute(db));
        expect(isDatabaseUnavailable(late.error), String(late.error)).toBe(true);
        expect(late.ms).toBeLessThan(50);
        // After the answer (an audit record, a live stream's checks), the database is used on its own deadlines.
        answered = true;
        expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows[0]?.one).toBe(1);
      },
      () => answered,
    );
  });

  it('leaves work outside a request on its own deadlines: a wait for a connection and its first answer share one', async (ctx) => {
    if (!handle || !proxy) return ctx.skip('needs a real PostgreSQL');
    const db = handle.db;
    // Both connections busy for 700 ms; a query waits that long for one, then takes 500 ms, and the
    // database hangs meanwhile: it fails DB_TIMEOUT_MS after it began waiting, not that plus its wait.
    const busy = [0, 1].map(() => sql`select pg_sleep(0.7)`.execute(db));
    const waiting = failure(() => sql`select pg_sleep(0.5)`.execute(db));
    await sleep(900);
    proxy.hang();
    const { error, ms } = await waiting;
    await Promise.allSettled(busy);
    proxy.restore();
    expect(isDatabaseUnavailable(error), String(error)).toBe(true);
    expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows[0]?.one).toBe(1);
  });
});
