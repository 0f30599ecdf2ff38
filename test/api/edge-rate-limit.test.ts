// Rate limits on real Redis: token buckets per API key, user or address with the spec's tiers,
// headers on every limited answer, 429 with Retry-After, health checks never limited, a stricter
// login limiter, one limit shared by several server processes, and an outage of Redis that costs
// a short timeout and nothing else.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { dropKeys, startTestServer, type TestServer } from '../support/server.ts';
import { testRedis } from '../support/backends.ts';
import { isClusterUrl } from '../../server/redis/cluster.ts';
import { http } from '../support/http.ts';
import { bearer, login, TEST_ADMIN } from '../support/identity.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { enrolAgent } from '../support/agents.ts';
import { redisServerAvailable, startPrivateRedis } from '../support/redis-server.ts';

const JWT_SECRET = 'rate-limit-tests-share-this-secret-0123456789';
const tight = (burst: number, perMinute = 60) => ({ requests_per_minute: perMinute, burst });
const limits = (tiers: Record<string, unknown>, limiters: Record<string, unknown> = {}) => JSON.stringify({ tiers, limiters });

describe('rate limits', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      JWT_SECRET,
      RATE_LIMITS: limits({ anonymous: tight(2), authenticated: tight(3), admin: tight(3), premium: tight(50) }, { login: tight(3, 1) }),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers the bucket in headers and 429 with Retry-After once it is empty', async () => {
    // Start from a full bucket: the set-up spent from it, and it refills at one token a second.
    await new Promise((resolve) => setTimeout(resolve, 3100));
    const seen = [];
    for (let i = 0; i < 5; i += 1) seen.push(await server.call('GET', '/api/v2/agents'));
    const ok = seen.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    expect(ok.length).toBeLessThanOrEqual(4); // a token may refill while the requests run
    expect(seen[0]!.headers.get('x-ratelimit-limit')).toBe('3');
    expect(seen[0]!.headers.get('x-ratelimit-remaining')).toBe('2');
    expect(seen[0]!.headers.get('x-ratelimit-bucket')).toMatch(/^user:[0-9a-f-]{36}\/admin$/);
    expect(Number(seen[0]!.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 - 1);
    const refused = seen.at(-1)!;
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    // The bucket refills at the tier's rate (one a second here).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await server.call('GET', '/api/v2/agents')).status).toBe(200);
  });

  it('gives an API key its own bucket, apart from its owner', async () => {
    await new Promise((resolve) => setTimeout(resolve, 3100));
    const created = await server.call('POST', '/api/v1/api-keys', { json: { name: 'bucket', scopes: ['agents:read'] } });
    const secret = created.body.data.secret;
    for (let i = 0; i < 3; i += 1) await server.call('GET', '/api/v2/agents');
    const withKey = await http(server.url, 'GET', '/api/v2/agents', { headers: { 'x-api-key': secret } });
    expect(withKey.status).toBe(200);
    expect(withKey.headers.get('x-ratelimit-bucket')).toBe(`api_key:${created.body.data.id}/admin`);
  });

  it('limits anonymous callers by address, never health checks', async () => {
    const version = [];
    for (let i = 0; i < 4; i += 1) version.push(await http(server.url, 'GET', '/api/v1/system/version'));
    expect(version.map((r) => r.status)).toContain(429);
    expect(version[0]!.headers.get('x-ratelimit-bucket')).toMatch(/^ip:.+\/anonymous$/);
    for (let i = 0; i < 40; i += 1) {
      const live = await http(server.url, 'GET', '/health/live');
      expect(live.status).toBe(200);
      expect(live.headers.get('x-ratelimit-limit')).toBeNull();
    }
    expect((await http(server.url, 'GET', '/health/ready')).status).toBe(200);
  });

  it('limits logins more strictly, per address, whatever the credentials', async () => {
    // The set-up signed in once, leaving two of the three logins (no refill within a minute).
    const attempts = [];
    for (let i = 0; i < 3; i += 1) attempts.push(await http(server.url, 'POST', '/api/v1/auth/login', { json: { email: TEST_ADMIN.email, password: TEST_ADMIN.password } }));
    expect(attempts.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(attempts[2]!.headers.get('x-ratelimit-bucket')).toMatch(/^login:/);
  });
});

describe('one limit across two server processes sharing Redis', () => {
  it('admits no more than the bucket holds in total', async (ctx) => {
    const redisUrl = await testRedis();
    if (!redisUrl) return ctx.skip('needs Redis: without it each process limits alone');
    // A patient limiter: on a loaded machine a slow Lua call must not fail open and admit extra requests.
    const env = { JWT_SECRET, RATE_LIMIT_TIMEOUT_MS: '3000', RATE_LIMITS: limits({ admin: tight(10, 1), anonymous: tight(1000, 60_000) }, { login: tight(10, 60) }) };
    const first = await startTestServer(env);
    const second = await startServer(
      loadConfig({
        NODE_ENV: 'test',
        PORT: '0',
        LOG_LEVEL: 'silent',
        DATABASE_URL: first.testDatabase.url ?? '',
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: first.redisKeyPrefix,
        OPSDECK_DEMO_DATA: 'false',
        ...env,
      }),
      pino({ level: 'silent' }),
    );
    try {
      if (!first.testDatabase.url) return ctx.skip('needs a shared PostgreSQL');
      // A fresh API key has a full bucket of its own, valid on both processes (same database).
      const secret = (await first.call('POST', '/api/v1/api-keys', { json: { name: 'two processes', scopes: ['agents:read'] } })).body.data.secret;
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => http(i % 2 === 0 ? first.url : second.url, 'GET', '/api/v2/agents', { headers: { 'x-api-key': secret } })),
      );
      const admitted = answers.filter((a) => a.status === 200);
      expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
      expect(admitted.length).toBeGreaterThanOrEqual(10);
      expect(admitted.length).toBeLessThanOrEqual(11); // one token may refill (1 a minute) while they run
      expect(answers.filter((a, i) => i % 2 === 0 && a.status === 200).length).toBeGreaterThan(0);
      expect(answers.filter((a, i) => i % 2 === 1 && a.status === 200).length).toBeGreaterThan(0);
    } finally {
      await second.stop();
      await first.close();
    }
  });

  it('leases a busy bucket a few tokens at a time, and still admits no more than it holds', async (ctx) => {
    const redisUrl = await testRedis();
    if (!redisUrl) return ctx.skip('needs Redis: without it each process limits alone');
    // A burst of 1000: a process may take up to 1 % of it (10 tokens) from Redis at once.
    const env = { JWT_SECRET, RATE_LIMIT_TIMEOUT_MS: '3000', RATE_LIMITS: limits({ admin: tight(1000, 1), anonymous: tight(1000, 60_000) }, { login: tight(10, 60) }) };
    const first = await startTestServer(env);
    const second = await startServer(
      loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', DATABASE_URL: first.testDatabase.url ?? '', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: first.redisKeyPrefix, OPSDECK_DEMO_DATA: 'false', ...env }),
      pino({ level: 'silent' }),
    );
    try {
      if (!first.testDatabase.url || !first.redis) return ctx.skip('needs a shared PostgreSQL');
      const created = (await first.call('POST', '/api/v1/api-keys', { json: { name: 'leases', scopes: ['agents:read'] } })).body.data;
      const headers = { 'x-api-key': created.secret as string };
      const tokensInRedis = async () => Number(await first.redis!.hget(`${first.redisKeyPrefix}rl:api_key:${created.id}`, 'tokens'));

      // One after another on one process: the leases grow (1, 2, 4, 8 tokens), so Redis has handed out more than was spent.
      const sequential = [];
      for (let i = 0; i < 8; i += 1) sequential.push(await http(first.url, 'GET', '/api/v2/agents', { headers }));
      expect(sequential.every((r) => r.status === 200)).toBe(true);
      expect(await tokensInRedis()).toBeLessThan(1000 - 8);
      expect(Number(sequential.at(-1)!.headers.get('x-ratelimit-remaining'))).toBeLessThanOrEqual(1000 - 8 + 1);

      // What a lease did not spend goes back to the bucket with the next call, once the lease is over (100 ms).
      const before = await tokensInRedis();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await http(first.url, 'GET', '/api/v2/agents', { headers })).status).toBe(200);
      expect(await tokensInRedis()).toBeGreaterThan(before - 10);

      // Then both processes at once, past the bucket: what is admitted in total is what the bucket held, less at
      // most what the two processes' last leases still hold unspent (10 each).
      const answers: number[] = [];
      const worker = async (base: string) => {
        for (let i = 0; i < 300; i += 1) answers.push((await http(base, 'GET', '/api/v2/agents', { headers })).status);
      };
      await Promise.all([first.url, second.url, first.url, second.url].map(worker));
      const admitted = answers.filter((status) => status === 200).length + 9;
      expect(answers.every((status) => status === 200 || status === 429)).toBe(true);
      expect(admitted).toBeLessThanOrEqual(1001); // one token may refill (1 a minute) while they run
      expect(admitted).toBeGreaterThanOrEqual(1000 - 20);
    } finally {
      await second.stop();
      await first.close();
    }
  }, 120_000);
});

describe('when Redis stops answering', () => {
  let running: RunningServer;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let token: string;
  const lines: string[] = [];
  const prefix = `opsdeck-test:outage:${process.pid}:${Date.now()}:`;

  beforeAll(async () => {
    const redisUrl = await testRedis();
    // A proxy in front of one seed node cannot cut a Redis Cluster: the client learns every node's own address.
    if (!redisUrl || isClusterUrl(redisUrl)) return;
    const target = new URL(redisUrl);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    running = await startServer(
      loadConfig({
        NODE_ENV: 'test',
        PORT: '0',
        PGLITE_DIR: 'memory://',
        OPSDECK_DEMO_DATA: 'false',
        OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
        OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
        REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
        REDIS_KEY_PREFIX: prefix,
        RATE_LIMITS: limits({ admin: tight(100_000, 6_000_000) }, { login: tight(1000, 60_000) }),
      }),
      log,
    );
    token = (await login(running.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
  });
  afterAll(async () => {
    if (running?.redis?.status === 'ready') await dropKeys(running.redis, prefix);
    await running?.stop();
    await proxy?.close();
  });

  it('allows requests after a short timeout, logs it, reports it in readiness, and resumes when Redis is back', async (ctx) => {
    if (!running) return ctx.skip('needs one Redis server (not a cluster) behind a proxy the test can cut');
    const call = () => http(running.url, 'GET', '/api/v2/agents', { headers: bearer(token) });
    expect((await call()).headers.get('x-ratelimit-limit')).toBe('100000');

    for (const mode of ['refuse', 'blackhole'] as const) {
      proxy.cut(mode);
      // Under load: a burst of concurrent requests while Redis is away.
      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: 20 }, call));
      const elapsed = performance.now() - started;
      expect(answers.map((a) => a.status).every((s) => s === 200), mode).toBe(true);
      expect(answers.every((a) => a.headers.get('x-ratelimit-limit') === null)).toBe(true);
      expect(elapsed, mode).toBeLessThan(2000);
      const ready = await http(running.url, 'GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.data.checks.find((c: { name: string }) => c.name === 'redis').status).toBe('unavailable');
      expect(lines.join('')).toContain('rate limiter: redis failed, request allowed');

      proxy.restore();
      await expect.poll(async () => (await http(running.url, 'GET', '/health/ready')).status, { timeout: 15_000, interval: 250 }).toBe(200);
      await expect.poll(async () => (await call()).headers.get('x-ratelimit-limit'), { timeout: 5_000, interval: 100 }).toBe('100000');
    }
  });
});

describe('stopping while Redis does not answer', () => {
  it('is not held up: QUIT is given up after a second and the connections dropped', async (ctx) => {
    const redisUrl = await testRedis();
    if (!redisUrl || isClusterUrl(redisUrl)) return ctx.skip('needs one Redis server (not a cluster) behind a proxy the test can cut');
    const target = new URL(redisUrl);
    const hung = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const server = await startServer(
      loadConfig({
        NODE_ENV: 'test',
        PORT: '0',
        PGLITE_DIR: 'memory://',
        OPSDECK_DEMO_DATA: 'false',
        SHUTDOWN_GRACE_MS: '500',
        REDIS_URL: `redis://127.0.0.1:${hung.port}`,
        REDIS_KEY_PREFIX: `opsdeck-test:${process.pid}:stop-${Date.now()}:`,
      }),
      pino({ level: 'silent' }),
    );
    try {
      // SIGSTOP on Redis, as it were: the connections stay open, nothing is answered (QUIT included).
      hung.hang();
      const started = performance.now();
      await server.stop();
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      hung.restore();
      await hung.close();
    }
  }, 30_000);
});

describe('the buckets of many callers at once', () => {
  it('are spent together in a few script calls, and each bucket still counts on its own', async (ctx) => {
    if (!(await redisServerAvailable())) return ctx.skip("needs redis-server, for a Redis of the test's own whose commands it counts");
    const redis = await startPrivateRedis();
    // Agents (tier authenticated) have a bucket of 2 each; the administrator who enrols them is not limited.
    const server = await startTestServer({ REDIS_URL: redis.url, RATE_LIMITS: limits({ authenticated: tight(2, 1), admin: tight(100_000, 600_000) }) });
    try {
      const agents = await Promise.all(Array.from({ length: 20 }, (_, i) => enrolAgent(server, `batched ${i}`)));
      const heartbeat = (key: string) => http(server.url, 'POST', '/api/v1/agent/heartbeat', { headers: { 'x-api-key': key } });
      const scriptCalls = async () => {
        const stats = await redis.admin.info('commandstats');
        return ['evalsha', 'eval'].reduce((sum, name) => sum + Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0), 0);
      };

      // One heartbeat from each of 20 agents at once: 20 buckets, spent in far fewer calls than 20.
      const before = await scriptCalls();
      const first = await Promise.all(agents.map((a) => heartbeat(a.key)));
      expect(first.map((r) => r.status)).toEqual(agents.map(() => 200));
      const calls = (await scriptCalls()) - before;
      expect(calls).toBeGreaterThanOrEqual(1);
      expect(calls).toBeLessThan(agents.length / 2);
      for (const r of first) expect(r.headers.get('x-ratelimit-bucket')).toMatch(/^agent:[0-9a-f-]{36}\/authenticated$/);

      // Each bucket counts on its own: two more heartbeats of every agent at once, and one token left in each.
      const second = await Promise.all(agents.flatMap((a) => [heartbeat(a.key), heartbeat(a.key)]));
      for (let i = 0; i < agents.length; i += 1) {
        expect([second[2 * i]!.status, second[2 * i + 1]!.status].sort()).toEqual([200, 429]);
      }
    } finally {
      await server.close();
      await redis.stop();
    }
  }, 60_000);
});
