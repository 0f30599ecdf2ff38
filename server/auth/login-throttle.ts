// Failed logins are counted per account and per client in fixed windows; past the limit, logins
// are refused with 429 until the window ends. The limits are the login operation's
// `x-login-throttle` in the spec. Counters live in Redis when there is one (shared by every server
// process), else in this process; while Redis does not answer, this process's own counters stand in,
// so throttling weakens to per-process rather than switching off.
import type { RedisClient } from '../redis/client.ts';
import { operationEntry } from '../http/operation-table.ts';
import { ApiError } from '../http/errors.ts';
import type { Logger } from '../logger.ts';
import { sha256 } from './secrets.ts';

interface Limit {
  max_failures: number;
  window_seconds: number;
}

const limits: { per_account: Limit; per_client: Limit } | undefined = operationEntry('login').loginThrottle;
if (!limits) throw new Error('the login operation must declare x-login-throttle');

interface Counter {
  /** Current count and seconds until the window ends. */
  get(key: string): Promise<{ count: number; ttl: number }>;
  increment(key: string, windowSeconds: number): Promise<void>;
  reset(key: string): Promise<void>;
}

class RedisCounter implements Counter {
  readonly #redis: RedisClient;
  constructor(redis: RedisClient) {
    this.#redis = redis;
  }
  async get(key: string) {
    const [[, count], [, ttl]] = (await this.#redis.multi().get(key).ttl(key).exec()) as [[null, string | null], [null, number]];
    return { count: Number(count ?? 0), ttl: Math.max(ttl, 1) };
  }
  async increment(key: string, windowSeconds: number) {
    await this.#redis.multi().incr(key).expire(key, windowSeconds, 'NX').exec();
  }
  async reset(key: string) {
    await this.#redis.del(key);
  }
}

class MemoryCounter implements Counter {
  readonly #counts = new Map<string, { count: number; until: number }>();
  async get(key: string) {
    const entry = this.#counts.get(key);
    if (!entry || entry.until <= Date.now()) return { count: 0, ttl: 0 };
    return { count: entry.count, ttl: Math.ceil((entry.until - Date.now()) / 1000) };
  }
  async increment(key: string, windowSeconds: number) {
    const entry = this.#counts.get(key);
    if (!entry || entry.until <= Date.now()) this.#counts.set(key, { count: 1, until: Date.now() + windowSeconds * 1000 });
    else entry.count += 1;
  }
  async reset(key: string) {
    this.#counts.delete(key);
  }
}

/** Redis first; this process's counters when a Redis command fails. */
class FallbackCounter implements Counter {
  readonly #primary: Counter;
  readonly #fallback = new MemoryCounter();
  readonly #log: Logger;

  constructor(primary: Counter, log: Logger) {
    this.#primary = primary;
    this.#log = log;
  }

  async #run<T>(work: (counter: Counter) => Promise<T>): Promise<T> {
    try {
      return await work(this.#primary);
    } catch (err) {
      this.#log.warn({ err: err instanceof Error ? err.message : String(err) }, 'login throttle: redis failed, counting in this process');
      return work(this.#fallback);
    }
  }

  get(key: string) {
    return this.#run((c) => c.get(key));
  }
  increment(key: string, windowSeconds: number) {
    return this.#run((c) => c.increment(key, windowSeconds));
  }
  reset(key: string) {
    return this.#run((c) => c.reset(key));
  }
}

export class LoginThrottle {
  readonly #counter: Counter;
  readonly #prefix: string;

  constructor(redis: RedisClient | undefined, prefix: string, log: Logger) {
    this.#counter = redis ? new FallbackCounter(new RedisCounter(redis), log) : new MemoryCounter();
    this.#prefix = `${prefix}login:`;
  }

  #keys(email: string, client: string) {
    return { account: `${this.#prefix}account:${sha256(email.toLowerCase())}`, client: `${this.#prefix}client:${client}` };
  }

  /** Throws 429 when either counter is at its limit. */
  async check(email: string, client: string): Promise<void> {
    const keys = this.#keys(email, client);
    const [account, perClient] = await Promise.all([this.#counter.get(keys.account), this.#counter.get(keys.client)]);
    const blocked = [
      account.count >= limits!.per_account.max_failures ? account.ttl : 0,
      perClient.count >= limits!.per_client.max_failures ? perClient.ttl : 0,
    ];
    const wait = Math.max(...blocked);
    if (wait > 0) {
      throw new ApiError('RATE_LIMIT_EXCEEDED', `Too many failed logins; retry in ${wait} seconds`, { headers: { 'Retry-After': String(wait) } });
    }
  }

  async recordFailure(email: string, client: string): Promise<void> {
    const keys = this.#keys(email, client);
    await Promise.all([
      this.#counter.increment(keys.account, limits!.per_account.window_seconds),
      this.#counter.increment(keys.client, limits!.per_client.window_seconds),
    ]);
  }

  async recordSuccess(email: string, client: string): Promise<void> {
    await this.#counter.reset(this.#keys(email, client).account);
  }
}
