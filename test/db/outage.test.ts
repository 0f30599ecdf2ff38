// A database that stops answering costs a request a short timeout and a 503, never a hang;
// readiness turns 503; when the database returns, the server recovers without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testRedis, type TestDatabase } from '../support/backends.ts';
import { startTcpProxy, throughProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createTeam, login, TEST_ADMIN } from '../support/identity.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';

let database: TestDatabase;
let proxy: TcpProxy;
let server: RunningServer;
let auth: Record<string, string>;

beforeAll(async () => {
  database = await createTestDatabase();
  if (!database.url) return;
  const target = new URL(database.url);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const redisUrl = await testRedis();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: throughProxy(database.url, proxy),
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    DB_TIMEOUT_MS: '800',
    LOG_LEVEL: 'silent',
    OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
    OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
  });
  server = await startServer(config, createLogger('silent'));
  const token = (await login(server.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
  await createTeam(server.url, token, 'Outage');
  auth = bearer(token);
});

afterAll(async () => {
  await server?.stop();
  await proxy?.close();
  await database?.drop();
});

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

describe('database outage', () => {
  it('answers 503 EXT_DATABASE_ERROR quickly while the database is away, and recovers', async (ctx) => {
    if (!database.url) ctx.skip('needs a real PostgreSQL: the embedded database cannot go away');
    const created = await http(server.url, 'POST', '/api/v1/agents', { json: newAgent(), headers: auth });
    expect(created.status).toBe(201);

    for (const mode of ['refuse', 'blackhole'] as const) {
      proxy.cut(mode);
      const list = await timed(() => http(server.url, 'GET', '/api/v2/agents', { headers: auth }));
      expect(list.result.status, mode).toBe(503);
      expect(list.result.body.error.code).toBe('EXT_DATABASE_ERROR');
      expect(list.result.headers.get('retry-after')).toBe('5');
      expect(list.ms, mode).toBeLessThan(3000);

      const write = await timed(() => http(server.url, 'POST', '/api/v1/agents', { json: newAgent(), headers: auth }));
      expect(write.result.status).toBe(503);
      expect(write.ms).toBeLessThan(3000);

      const ready = await timed(() => http(server.url, 'GET', '/health/ready'));
      expect(ready.result.status).toBe(503);
      expect(ready.result.body.data.checks.find((c: { name: string }) => c.name === 'database').status).toBe('unavailable');
      expect(ready.ms).toBeLessThan(3000);
      expect((await http(server.url, 'GET', '/health/live')).status).toBe(200);

      proxy.restore();
      await expect.poll(async () => (await http(server.url, 'GET', '/health/ready')).status, { timeout: 10_000, interval: 200 }).toBe(200);
      const again = await http(server.url, 'GET', `/api/v1/agents/${created.body.data.id}`, { headers: auth });
      expect(again.status).toBe(200);
    }
  });
});
