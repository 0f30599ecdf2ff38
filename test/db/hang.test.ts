// A PostgreSQL that hangs (its processes stopped: connections stay open, nothing answers, new ones are
// accepted and never answered) costs every request DB_TIMEOUT_MS at most, then 503 EXT_DATABASE_ERROR:
// the requests waiting for a pool connection too, and the ones after them (a connection that went silent
// is not handed out again). When it resumes, the server recovers by itself. Played by a proxy between
// the server and its own database, so the machine's shared PostgreSQL is never touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startTcpProxy, throughProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { http, newAgent, type RawResponse } from '../support/http.ts';
import { adminDatabaseUrl, postgresAnswers } from '../support/backends.ts';

const TIMEOUT_MS = 1500;
// Timers, the 503's envelope and a busy 2-core machine: what an answer may take beyond DB_TIMEOUT_MS.
const MARGIN_MS = 500;
const POOL = 3;

let proxy: TcpProxy | undefined;
let server: TestServer | undefined;

beforeAll(async () => {
  if (!(await postgresAnswers())) return;
  // Between the server and its database (a fresh one on the same PostgreSQL as the admin URL).
  const target = new URL(adminDatabaseUrl);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  server = await startTestServer(
    { DB_TIMEOUT_MS: String(TIMEOUT_MS), DB_POOL_MAX: String(POOL) },
    {
      databaseUrl: (url) => throughProxy(url, proxy!),
    },
  );
}, 60_000);
afterAll(async () => {
  proxy?.restore();
  await server?.close();
  await proxy?.close();
});

async function timed(work: () => Promise<RawResponse>): Promise<RawResponse & { ms: number }> {
  const started = performance.now();
  const response = await work();
  return { ...response, ms: Math.round(performance.now() - started) };
}

describe('a hung PostgreSQL', () => {
  it('answers every request 503 EXT_DATABASE_ERROR within DB_TIMEOUT_MS, those waiting for a connection too, and recovers', async (ctx) => {
    if (!server || !proxy) return ctx.skip('needs a real PostgreSQL: the embedded database cannot hang');
    const created = await server.call('POST', '/api/v1/agents', { json: newAgent() });
    expect(created.status).toBe(201);
    const id = created.body.data.id as string;
    // Read during the hang: an agent this process has not answered yet (one it has is answered from its cache
    // while the change feed is trusted, up to 1 s: test/api/agent-read-cache.test.ts).
    const unread = (await server.call('POST', '/api/v1/agents', { json: newAgent() })).body.data.id as string;
    // Each kind of request once (the validator compiles an operation's schemas on first use), and every
    // pooled connection open and idle, so the hang catches the pool with live connections in it.
    expect((await server.call('GET', `/api/v1/agents/${id}`)).status).toBe(200);
    await Promise.all(Array.from({ length: POOL * 2 }, () => server!.call('GET', '/api/v1/agents')));

    proxy.hang();
    // Four times the pool at once, so most wait for a connection; then a second wave, which must not be
    // handed the connections that went silent in the first.
    for (const wave of [1, 2]) {
      const answers = await Promise.all(
        Array.from({ length: POOL * 4 }, (_, i) =>
          timed(() =>
            i % 3 === 0
              ? server!.call('POST', '/api/v1/agents', { json: newAgent() })
              : i % 3 === 1
                ? server!.call('GET', `/api/v1/agents/${unread}`)
                : server!.call('GET', '/api/v1/agents'),
          ),
        ),
      );
      const slowest = Math.max(...answers.map((a) => a.ms));
      for (const answer of answers) {
        expect(answer.status, `wave ${wave}: ${answer.text}`).toBe(503);
        expect(answer.body.error.code).toBe('EXT_DATABASE_ERROR');
        expect(answer.headers.get('retry-after')).toBe('5');
      }
      expect(slowest, `wave ${wave}: ${answers.map((a) => a.ms).join(', ')} ms`).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    }
    expect((await http(server.url, 'GET', '/health/live')).status).toBe(200);
    expect((await http(server.url, 'GET', '/health/ready')).status).toBe(503);

    proxy.restore();
    await expect.poll(async () => (await http(server!.url, 'GET', '/health/ready')).status, { timeout: 10_000, interval: 200 }).toBe(200);
    const again = await server.call('GET', `/api/v1/agents/${id}`);
    expect(again.status, again.text).toBe(200);
    expect((await server.call('POST', '/api/v1/agents', { json: newAgent() })).status).toBe(201);
  }, 60_000);
});
