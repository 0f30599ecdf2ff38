// The edge's shared state, on Redis when one is configured (every server process shares it) or in
// this process otherwise; start-up says which.
import type { RedisClient } from '../redis/client.ts';
import type { SecretBox } from '../auth/secret-box.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore } from './idempotency.ts';
import { MemoryRateLimiter, RateLimitPolicy, RedisRateLimiter, rateLimitSettings } from './rate-limit.ts';
import { MemoryTaggedCache, RedisTaggedCache, type TaggedCache } from './tagged-cache.ts';

export interface Edge {
  rateLimits: RateLimitPolicy;
  idempotency: IdempotencyStore;
  cache: TaggedCache;
}

/** `box` seals the answers kept for idempotency keys in Redis: some carry secrets shown once (API keys, webhook secrets). */
export function createEdge(config: Config, redis: RedisClient | undefined, log: Logger, box: SecretBox): Edge {
  const settings = rateLimitSettings(config.rateLimitsEnabled, config.rateLimitOverrides as never);
  if (!redis) {
    log.info('edge: no Redis, so rate limits, idempotency keys and the cache live in this process only');
    return { rateLimits: new RateLimitPolicy(new MemoryRateLimiter(), settings), idempotency: new MemoryIdempotencyStore(), cache: new MemoryTaggedCache() };
  }
  const prefix = config.redisKeyPrefix;
  return {
    rateLimits: new RateLimitPolicy(new RedisRateLimiter(redis, prefix, log, config.rateLimitTimeoutMs), settings),
    idempotency: new RedisIdempotencyStore(redis, prefix, log, box),
    cache: new RedisTaggedCache(redis, prefix, log),
  };
}
