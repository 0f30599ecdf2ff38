// `getAgent` is answered from a per-process cache (server/db/cached-rows.ts) that follows the change feed, so
// what any writer changes must still reach every process quickly. Two processes share PostgreSQL: A, a real
// child (`node server/main.ts`) whose database connections go through a proxy this test can cut, has the
// agent cached by a GET that succeeded there; the change is made on B, or straight in SQL as the sweeper and
// heartbeats make it; then A must answer the new state within 1 s. A process answers its own writes at once,
// another team's caller never gets a cached agent, and a process that cannot read the feed stops trusting
// its cache within the ceiling.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { startChildServer, type ChildServer } from '../support/child-server.ts';
import { http } from '../support/http.ts';
import { bearer, createOutsider, createTeam, login, TEST_ADMIN } from '../support/identity.ts';
import { startTcpProxy, throughProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const JWT_SECRET = randomBytes(32).toString('hex');
/** The promise: every process answers the change within 1 s. */
const WITHIN_MS = 1000;

let database: TestDatabase;
let databaseProxy: TcpProxy | undefined;
let a: ChildServer | undefined;
let b: RunningServer | undefined;
let admin: string;
let teamId: string;

function env(databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    REDIS_URL: '',
    RATE_LIMITS_ENABLED: 'false',
    JWT_SECRET,
    OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
    OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
    OPSDECK_DEMO_DATA: 'false',
    DB_TIMEOUT_MS: '500',
    ...extra,
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  if (!database.url) return;
  const target = new URL(database.url);
  databaseProxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const config = loadConfig(env(database.url, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' }));
  b = await startServer(config, createLogger(config.logLevel));
  a = await startChildServer(env(throughProxy(database.url, databaseProxy), { BACKGROUND_WORKERS: 'false' }), 60_000);
  admin = (await login(b.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
  teamId = await createTeam(b.url, admin, 'Read cache');
}, 90_000);

afterAll(async () => {
  a?.process.kill('SIGKILL');
  await databaseProxy?.close();
  await b?.stop();
  await database?.drop();
});

const onA = (method: string, path: string, json?: unknown, token = admin) => http(a!.url, method, path, { headers: bearer(token), json });
const onB = (method: string, path: string, json?: unknown, token = admin) => http(b!.url, method, path, { headers: bearer(token), json });

/** An agent that A has just answered (and so keeps). */
async function cachedOnA(): Promise<{ id: string; etag: string }> {
  const created = await onB('POST', '/api/v1/agents', { hostname: `cached-${randomBytes(3).toString('hex')}`, ip_address: '10.0.2.1', platform: 'linux', team_id: teamId });
  expect(created.status, created.text).toBe(201);
  const id = created.body.data.id as string;
  const first = await onA('GET', `/api/v1/agents/${id}`);
  expect(first.status).toBe(200);
  return { id, etag: first.headers.get('etag')! };
}

/** How long after `since` A first answers what `seen` accepts for the agent (polled every 25 ms); fails past 3 s. */
async function seenOnA(since: number, id: string, seen: (res: Awaited<ReturnType<typeof onA>>) => boolean): Promise<number> {
  for (;;) {
    const res = await onA('GET', `/api/v1/agents/${id}`);
    if (seen(res)) return performance.now() - since;
    if (performance.now() - since > 3000) throw new Error(`A still answers ${res.status} ${res.text.slice(0, 200)} 3 s after the change`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Statements run in order on a connection of their own, straight to PostgreSQL (not through the API). */
async function sql(...statements: Array<[text: string, values?: unknown[]]>): Promise<void> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    for (const [text, values] of statements) await client.query(text, values);
  } finally {
    await client.end();
  }
}

describe('getAgent answered from a process cache', () => {
  it('keeps the agent: a change made behind the API is not seen until the feed names it', async (context) => {
    if (!a || !b) return context.skip();
    const agent = await cachedOnA();
    // Without a feed row (the trigger off for this one statement) A keeps answering what it has: the cache is real.
    await sql(
      ['begin'],
      ['alter table agents disable trigger agents_rows_updated'],
      [`update agents set hostname = 'unseen' where id = $1`, [agent.id]],
      ['alter table agents enable trigger agents_rows_updated'],
      ['commit'],
    );
    await new Promise((resolve) => setTimeout(resolve, 600));
    const res = await onA('GET', `/api/v1/agents/${agent.id}`);
    expect(res.status).toBe(200);
    expect(res.body.data.hostname).not.toBe('unseen');
    expect(res.headers.get('etag')).toBe(agent.etag);
  });

  it('a change made on another process is answered within 1 s, with its new ETag', async (context) => {
    if (!a || !b) return context.skip();
    const agent = await cachedOnA();
    const patched = await onB('PATCH', `/api/v1/agents/${agent.id}`, { tags: ['moved'] });
    expect(patched.status, patched.text).toBe(200);
    const start = performance.now();
    expect(await seenOnA(start, agent.id, (res) => res.status === 200 && res.body.data.tags?.[0] === 'moved')).toBeLessThan(WITHIN_MS);
    expect((await onA('GET', `/api/v1/agents/${agent.id}`)).headers.get('etag')).not.toBe(agent.etag);
  });

  it('a change made in SQL (the sweeper, a heartbeat, psql) is answered within 1 s', async (context) => {
    if (!a || !b) return context.skip();
    const agent = await cachedOnA();
    await sql([`update agents set status = 'maintenance', updated_at = now() where id = $1`, [agent.id]]);
    const start = performance.now();
    expect(await seenOnA(start, agent.id, (res) => res.body.data?.status === 'maintenance')).toBeLessThan(WITHIN_MS);
  });

  it('a deletion made on another process is a 404 within 1 s', async (context) => {
    if (!a || !b) return context.skip();
    const agent = await cachedOnA();
    expect((await onB('DELETE', `/api/v1/agents/${agent.id}`)).status).toBe(204);
    const start = performance.now();
    expect(await seenOnA(start, agent.id, (res) => res.status === 404)).toBeLessThan(WITHIN_MS);
  });

  it('a process answers its own write at once', async (context) => {
    if (!a || !b) return context.skip();
    const agent = await cachedOnA();
    expect((await onA('PATCH', `/api/v1/agents/${agent.id}`, { os_version: 'own-write' })).status).toBe(200);
    const res = await onA('GET', `/api/v1/agents/${agent.id}`);
    expect(res.body.data.os_version).toBe('own-write');
  });

  it("another team's caller gets the 404 of a missing agent, cached or not", async (context) => {
    if (!a || !b) return context.skip();
    const agent = await cachedOnA();
    const { outsider } = await createOutsider(b.url, admin);
    const probe = await onA('GET', `/api/v1/agents/${agent.id}`, undefined, outsider.token);
    const missing = await onA('GET', `/api/v1/agents/${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}`, undefined, outsider.token);
    expect(probe.status).toBe(404);
    expect(probe.body.error.code).toBe(missing.body.error.code);
    // And the owner still gets it from the same process.
    expect((await onA('GET', `/api/v1/agents/${agent.id}`)).status).toBe(200);
  });

  it('a process that cannot read the feed stops answering from its cache within the ceiling', async (context) => {
    if (!a || !b || !databaseProxy) return context.skip();
    const agent = await cachedOnA();
    databaseProxy.cut('refuse');
    try {
      await new Promise((resolve) => setTimeout(resolve, WITHIN_MS + 200));
      // Its cache is no longer trusted: the read goes to the database, which A cannot reach.
      const res = await onA('GET', `/api/v1/agents/${agent.id}`);
      expect(res.status, res.text).toBe(503);
    } finally {
      databaseProxy.restore();
    }
    const start = performance.now();
    expect(await seenOnA(start, agent.id, (res) => res.status === 200)).toBeLessThan(3000);
  });
});
