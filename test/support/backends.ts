// Real backends for tests: a fresh PostgreSQL database per caller (dropped afterwards) and a Redis
// URL, when they answer on localhost; embedded fallbacks otherwise, unless
// OPSDECK_REQUIRE_EXTERNAL_BACKENDS forbids them (CI proves the real ones).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { isClusterUrl, parseClusterUrl } from '../../server/redis/cluster.ts';

export const adminDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const requireExternal = ['1', 'true', 'yes'].includes((process.env.OPSDECK_REQUIRE_EXTERNAL_BACKENDS ?? '').toLowerCase());

async function answers(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

export async function postgresAnswers(): Promise<boolean> {
  return answers(async () => {
    const client = new pg.Client({ connectionString: adminDatabaseUrl, connectionTimeoutMillis: 2000 });
    await client.connect();
    await client.end();
  });
}

/** `TEST_REDIS_URL` may name a Redis Cluster (`redis+cluster://…`): it answers when its first seed node says the cluster is ok. */
export async function redisAnswers(): Promise<boolean> {
  return answers(async () => {
    const cluster = isClusterUrl(testRedisUrl) ? parseClusterUrl(testRedisUrl) : undefined;
    const options = { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null };
    const redis = cluster ? new Redis({ ...cluster.nodes[0], username: cluster.username, password: cluster.password, ...options }) : new Redis(testRedisUrl, options);
    try {
      await redis.connect();
      if (!cluster) await redis.ping();
      else if (!String(await redis.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) throw new Error('the Redis Cluster is not ok');
    } finally {
      redis.disconnect();
    }
  });
}

export interface TestDatabase {
  /** A connection string, or undefined for the embedded in-memory PGlite. */
  url: string | undefined;
  backend: 'postgresql' | 'pglite';
  /** `url` goes through a pooler in transaction mode (TEST_DATABASE_POOLER): servers need DATABASE_TRANSACTION_POOLING. */
  transactionPooling: boolean;
  drop(): Promise<void>;
}

/** `host:port` of a pooler in transaction mode (PgBouncer) that test databases are reached through, when set. */
function pooler(): string | undefined {
  return process.env.TEST_DATABASE_POOLER || undefined;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!(await postgresAnswers())) {
    if (requireExternal) throw new Error(`PostgreSQL does not answer at ${adminDatabaseUrl} and embedded fallbacks are forbidden`);
    return { url: undefined, backend: 'pglite', transactionPooling: false, drop: async () => {} };
  }
  const name = `opsdeck_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminDatabaseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  const through = pooler();
  if (through) url.host = through;
  return {
    url: url.toString(),
    backend: 'postgresql',
    transactionPooling: through !== undefined,
    async drop() {
      const client = new pg.Client({ connectionString: adminDatabaseUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

export async function testRedis(): Promise<string | undefined> {
  if (await redisAnswers()) return testRedisUrl;
  if (requireExternal) throw new Error(`Redis does not answer at ${testRedisUrl} and embedded fallbacks are forbidden`);
  return undefined;
}
