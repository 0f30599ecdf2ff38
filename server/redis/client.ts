// The Redis connection, when REDIS_URL is set. Commands fail fast while Redis is away (no offline
// queue, one retry) so a missing Redis costs a request a short timeout, never a hang.
import { withTimeout } from '../db/database.ts';
import type { Logger } from '../logger.ts';
import { connectCluster, isClusterUrl, type RedisClient } from './cluster.ts';

export type { RedisClient } from './cluster.ts';

/**
 * Connects, waiting up to `timeoutMs` for Redis to be ready; a Redis that is away does not stop start-up.
 * A `redis+cluster://` URL names a Redis Cluster (redis/cluster.ts).
 */
export async function openRedis(url: string, log: Logger, timeoutMs: number): Promise<RedisClient> {
  // Loaded only when there is a Redis to connect to: a start without one (the embedded default) skips it.
  const { Redis } = await import('ioredis');
  const redis: RedisClient = isClusterUrl(url)
    ? await connectCluster(url, timeoutMs)
    : new Redis(url, {
        lazyConnect: false,
        // The commands of concurrent requests (a rate-limit script per agent request, at fleet scale thousands a
        // second) are written together, one write per turn of the event loop instead of one per command.
        enableAutoPipelining: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: timeoutMs,
        commandTimeout: timeoutMs,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      });
  let healthy = true;
  redis.on('error', (err) => {
    if (healthy) log.warn({ err: err.message }, 'redis unavailable');
    healthy = false;
  });
  redis.on('ready', () => {
    if (!healthy) log.info('redis is back');
    healthy = true;
  });
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      redis.on('ready', done);
    });
  }
  if (redis.status !== 'ready') log.warn({ status: redis.status }, 'redis is not ready yet; starting without it');
  return redis;
}

/**
 * Closes a connection for a stop: QUIT waits for Redis's answer (and a connection with an offline queue holds it
 * while Redis is away), so it is given up after `timeoutMs` and the connection dropped. A Redis that does not
 * answer, or a connection a network fault left hanging, must not hold up the stop.
 */
export async function closeRedis(redis: RedisClient, timeoutMs = 1000): Promise<void> {
  await withTimeout(redis.quit(), timeoutMs, 'redis did not answer QUIT').catch(() => redis.disconnect());
}
