// Costly reads (summaries, counts) cached with tags. Each tag has a version number; an entry's key
// includes the versions of its tags, so invalidating a tag (one INCR) makes every entry that carries
// it unreachable at once: a read after a write can never see the old entry. Redis when configured
// (shared by every process), else this process's memory. Entries also expire, which bounds staleness
// should an invalidation itself fail while Redis is away. On a Redis Cluster, the tags' version counters share
// one hash slot (the hash tag `{tags}`), so one MGET reads them and one MULTI bumps them; entries spread freely.
import type { RedisClient } from '../redis/client.ts';
import type { Logger } from '../logger.ts';

export interface TaggedCache {
  getOrCompute<T>(key: string, tags: readonly string[], compute: () => Promise<T>): Promise<T>;
  invalidate(tags: readonly string[]): Promise<void>;
}

const TTL_SECONDS = 60;

export class RedisTaggedCache implements TaggedCache {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #log: Logger;

  constructor(redis: RedisClient, prefix: string, log: Logger) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#log = log;
  }

  /** A tag's version counter; every one of them in the hash slot of `{tags}`. */
  #tagKey(tag: string): string {
    return `${this.#prefix}{tags}:${tag}`;
  }

  async getOrCompute<T>(key: string, tags: readonly string[], compute: () => Promise<T>): Promise<T> {
    let entryKey: string;
    try {
      const versions = tags.length > 0 ? await this.#redis.mget(tags.map((t) => this.#tagKey(t))) : [];
      entryKey = `${this.#prefix}cache:${key}:${versions.map((v) => v ?? '0').join('.')}`;
      const hit = await this.#redis.get(entryKey);
      if (hit !== null) return JSON.parse(hit) as T;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cache: redis failed, computing without it');
      return compute();
    }
    const value = await compute();
    this.#redis.set(entryKey, JSON.stringify(value), 'EX', TTL_SECONDS).catch((err: unknown) => {
      this.#log.warn({ err: (err as Error).message }, 'cache: could not store an entry');
    });
    return value;
  }

  async invalidate(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    const pipeline = this.#redis.multi();
    for (const tag of tags) pipeline.incr(this.#tagKey(tag));
    await pipeline.exec().catch((err: unknown) => {
      this.#log.error({ err: (err as Error).message, tags }, `cache: invalidation failed; entries expire within ${TTL_SECONDS} s`);
    });
  }
}

export class MemoryTaggedCache implements TaggedCache {
  readonly #versions = new Map<string, number>();
  readonly #entries = new Map<string, { value: unknown; until: number }>();

  async getOrCompute<T>(key: string, tags: readonly string[], compute: () => Promise<T>): Promise<T> {
    const entryKey = `${key}:${tags.map((t) => this.#versions.get(t) ?? 0).join('.')}`;
    const hit = this.#entries.get(entryKey);
    if (hit && hit.until > Date.now()) return hit.value as T;
    const value = await compute();
    if (this.#entries.size > 10_000) this.#entries.clear();
    this.#entries.set(entryKey, { value, until: Date.now() + TTL_SECONDS * 1000 });
    return value;
  }

  async invalidate(tags: readonly string[]): Promise<void> {
    for (const tag of tags) this.#versions.set(tag, (this.#versions.get(tag) ?? 0) + 1);
  }
}
