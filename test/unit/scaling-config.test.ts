// The configuration of many processes: a Redis Cluster URL's seed nodes and credentials, and WEB_CONCURRENCY's
// requirements (a shared PostgreSQL and Redis).
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { isClusterUrl, parseClusterUrl } from '../../server/redis/cluster.ts';

describe('a Redis Cluster URL', () => {
  it('names seed nodes, with credentials and TLS', () => {
    expect(isClusterUrl('redis://127.0.0.1:6379')).toBe(false);
    expect(isClusterUrl('redis+cluster://127.0.0.1:7000')).toBe(true);
    expect(parseClusterUrl('redis+cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002')).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 6379 },
        { host: '::1', port: 7002 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
    expect(parseClusterUrl('rediss+cluster://ops:s%40cret@redis-a:7000,redis-b:7000/')).toMatchObject({ username: 'ops', password: 's@cret', tls: true });
    expect(parseClusterUrl('redis+cluster://:only-password@redis-a:7000')).toMatchObject({ username: undefined, password: 'only-password' });
  });

  it('refuses a malformed node without quoting the credentials', () => {
    expect(() => parseClusterUrl('redis+cluster://user:hunter2@redis-a:99999')).toThrow(/host\[:port\]/);
    expect(() => parseClusterUrl('redis+cluster://user:hunter2@redis-a:99999')).not.toThrow(/hunter2/);
    expect(() => parseClusterUrl('redis+cluster://a:1,,b:2')).toThrow(/host\[:port\]/);
  });
});

describe('WEB_CONCURRENCY', () => {
  const base = { NODE_ENV: 'test', DATABASE_URL: 'postgres://db/opsdeck', REDIS_URL: 'redis://redis:6379' };

  it('is 1 by default, and takes a count', () => {
    expect(loadConfig(base).webConcurrency).toBe(1);
    expect(loadConfig({ ...base, WEB_CONCURRENCY: '4' }).webConcurrency).toBe(4);
  });

  it('above 1 needs a PostgreSQL server and Redis, which the processes share', () => {
    for (const missing of ['DATABASE_URL', 'REDIS_URL']) {
      const env: Record<string, string> = { ...base, WEB_CONCURRENCY: '2' };
      delete env[missing];
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(/WEB_CONCURRENCY above 1 needs DATABASE_URL and REDIS_URL/);
    }
    expect(() => loadConfig({ ...base, WEB_CONCURRENCY: '0' })).toThrow(ConfigError);
  });
});
