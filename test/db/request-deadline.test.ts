// The database part of a request has one budget (withDatabaseDeadline): DB_TIMEOUT_MS of waiting on the
// database, whatever the number of stages (waiting for a connection, queries, transactions) it goes
// through; time it spends on anything else is not charged; once the request has answered, what it still
// does with the database is on its own deadlines again. On a fresh database behind a proxy that plays a
// hung PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { startTcpProxy, throughProxy, type TcpProxy } from '../support/tcp-proxy.ts';
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
  handle = await openDatabase({ url: throughProxy(database.url, proxy), pgliteDir: 'memory://', poolMax: 2, timeoutMs: TIMEOUT_MS, log: createLogger('silent') });
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
  it('gives the stages of a request one budget, not one each', async (ctx) => {
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

  it('charges a request for its waits on the database, not for what it does between them', async (ctx) => {
    if (!handle || !proxy) return ctx.skip('needs a real PostgreSQL');
    const db = handle.db;
    let answered = false;
    await withDatabaseDeadline(
      async () => {
        // Computing longer than the budget between queries costs nothing of it.
        await sql`select 1`.execute(db);
        await sleep(TIMEOUT_MS + 100);
        await sql`select pg_sleep(0.6)`.execute(db);
        // 600 ms of the 1000 are spent: a query that takes 600 ms more is cut at the budget's end.
        const over = await failure(() => sql`select pg_sleep(0.6)`.execute(db));
        expect(isDatabaseUnavailable(over.error), String(over.error)).toBe(true);
        expect(over.ms).toBeLessThan(600);
        // Nothing is left: the next query is refused without being sent.
        const none = await failure(() => sql`select 1`.execute(db));
        expect(isDatabaseUnavailable(none.error), String(none.error)).toBe(true);
        expect(none.ms).toBeLessThan(50);
        // After the answer (an audit record, a live stream's checks), the database is used on its own deadlines.
        answered = true;
        expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows[0]?.one).toBe(1);
      },
      () => answered,
    );
  });

  it('leaves a request without a budget (Infinity) on the deadlines of work outside a request', async (ctx) => {
    if (!handle || !proxy) return ctx.skip('needs a real PostgreSQL');
    const db = handle.db;
    await withDatabaseDeadline(
      async () => {
        await sql`select pg_sleep(0.6)`.execute(db);
        await sql`select pg_sleep(0.6)`.execute(db);
        proxy!.hang();
        const { error, ms } = await failure(() => sql`select 1`.execute(db));
        proxy!.restore();
        expect(isDatabaseUnavailable(error), String(error)).toBe(true);
        expect(ms).toBeGreaterThan(TIMEOUT_MS - 50);
        expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      },
      () => false,
      Infinity,
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
