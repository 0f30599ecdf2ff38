// Starts a real Opsdeck server in-process on a fresh database, with response validation on.
import type { RedisClient } from '../../server/redis/client.ts';
import { isCluster } from '../../server/redis/cluster.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, testRedis, type TestDatabase } from './backends.ts';
import { createTeam, login, TEST_ADMIN } from './identity.ts';
import { http, type RawResponse } from './http.ts';

export interface TestServer extends RunningServer {
  readonly testDatabase: TestDatabase;
  /** The administrator's access token; it is a member of `teamId`, its only team. */
  readonly adminToken: string;
  readonly teamId: string;
  /** The prefix of this server's Redis keys. */
  readonly redisKeyPrefix: string;
  /** The largest body it reads (BODY_LIMIT_BYTES); a larger one is 413 whatever it holds. */
  readonly bodyLimitBytes: number;
  /** Plain HTTP as the administrator (pass `headers.authorization` to act as someone else). */
  call(method: string, path: string, options?: Parameters<typeof http>[3]): Promise<RawResponse>;
  close(): Promise<void>;
}

/** The keys matching a pattern (SCAN, so a big Redis is not blocked), on every master of a Redis Cluster. */
export async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of isCluster(redis) ? redis.nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return found;
}

/** Deletes every key under a prefix (one at a time on a Redis Cluster, where they live in many hash slots). */
export async function dropKeys(redis: RedisClient, prefix: string): Promise<void> {
  const keys = await keysMatching(redis, `${prefix}*`);
  if (!isCluster(redis)) {
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  } else await Promise.all(keys.map((key) => redis.del(key)));
}

export interface TestServerOptions {
  /** The URL the server connects to, from its fresh database's (e.g. through a proxy a test can cut). */
  databaseUrl?: (url: string) => string;
}

export async function startTestServer(env: Record<string, string> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const testDatabase = await createTestDatabase();
  const redisKeyPrefix = `opsdeck-test:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
  const redisUrl = await testRedis();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    PGLITE_DIR: 'memory://',
    VALIDATE_RESPONSES: 'true',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    SHUTDOWN_GRACE_MS: '2000',
    OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
    OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
    OPSDECK_DEMO_DATA: 'false',
    // Generous limits, so tests that sign in often are not throttled; the rate-limit tests set their own.
    RATE_LIMITS: JSON.stringify({
      tiers: Object.fromEntries(['anonymous', 'authenticated', 'premium', 'admin'].map((tier) => [tier, { requests_per_minute: 600_000, burst: 100_000 }])),
      limiters: { login: { requests_per_minute: 600_000, burst: 100_000 } },
    }),
    REDIS_KEY_PREFIX: redisKeyPrefix,
    ...(testDatabase.url ? { DATABASE_URL: options.databaseUrl ? options.databaseUrl(testDatabase.url) : testDatabase.url } : {}),
    ...(testDatabase.transactionPooling ? { DATABASE_TRANSACTION_POOLING: 'true' } : {}),
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...env,
  });
  const running = await startServer(config, createLogger(config.logLevel));
  const adminToken = (await login(running.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
  const teamId = await createTeam(running.url, adminToken, 'Test fleet');
  return {
    ...running,
    testDatabase,
    adminToken,
    teamId,
    redisKeyPrefix: config.redisKeyPrefix,
    bodyLimitBytes: config.bodyLimitBytes,
    call: (method, path, options = {}) =>
      http(running.url, method, path, { ...options, headers: { authorization: `Bearer ${adminToken}`, ...options.headers } }),
    async close() {
      if (running.redis?.status === 'ready') await dropKeys(running.redis, redisKeyPrefix);
      await running.stop();
      await testDatabase.drop();
    },
  };
}
