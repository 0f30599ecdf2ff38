// Rate limits as the spec declares them (`x-rate-limits`, and each operation's `x-rate-limit`):
// a token bucket per caller, kept in Redis by one Lua script so every server process shares it
// atomically (a busy caller's tokens are taken a few at a time: see the leases below); in this
// process's memory when no Redis is configured. While Redis does not
// answer, the policy of `when_redis_fails` applies (allow, and log).
import type { RedisClient } from '../redis/client.ts';
import { isCluster } from '../redis/cluster.ts';
import { rootExtensions } from '../contract.ts';
import type { OperationEntry } from '../http/operation-table.ts';
import type { Logger } from '../logger.ts';
import { withTimeout } from '../db/database.ts';

export interface Bucket {
  requests_per_minute: number;
  burst: number;
}

type RateLimitSpec = (typeof rootExtensions)['x-rate-limits'];

export type Tier = keyof RateLimitSpec['tiers'];

export const rateLimits = rootExtensions['x-rate-limits'];

export interface Verdict {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch seconds when the bucket is full again. */
  reset: number;
  /** Seconds until one token is back (for Retry-After). */
  retryAfter: number;
}

export interface RateLimiter {
  take(key: string, bucket: Bucket): Promise<Verdict | null>;
}

// Token buckets: each hash holds tokens and the time they were counted. Time comes from Redis itself, so
// processes with skewed clocks still agree. One call serves several buckets (the asks of one turn of the event
// loop, see `#ask`): per key, ARGV holds its rate per minute, its burst, the tokens asked for (a lease, see below)
// and the tokens of an earlier lease that come back unspent. Answers, per key, the tokens granted (0: refused),
// tokens left (floored), ms until full, ms until the next token, and Redis's time.
const TOKEN_BUCKETS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, #KEYS do
  local a = (i - 1) * 4
  local rate = tonumber(ARGV[a + 1]) / 60000
  local capacity = tonumber(ARGV[a + 2])
  local want = tonumber(ARGV[a + 3])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate + tonumber(ARGV[a + 4]))
  local granted = math.min(want, math.floor(tokens))
  if granted < 0 then granted = 0 end
  tokens = tokens - granted
  local full_in = math.ceil((capacity - tokens) / rate)
  redis.call('HSET', KEYS[i], 'tokens', tostring(tokens), 'at', now)
  redis.call('PEXPIRE', KEYS[i], full_in + 1000)
  local next_in = 0
  if tokens < 1 then next_in = math.ceil((1 - tokens) / rate) end
  out[#out + 1] = granted
  out[#out + 1] = math.floor(tokens)
  out[#out + 1] = full_in
  out[#out + 1] = next_in
  out[#out + 1] = now
end
return out
`;

function verdict(bucket: Bucket, allowed: boolean, tokens: number, fullInMs: number, nextInMs: number, nowMs: number): Verdict {
  return {
    allowed,
    limit: bucket.burst,
    remaining: Math.max(0, Math.floor(tokens)),
    reset: Math.ceil((nowMs + fullInMs) / 1000),
    retryAfter: Math.max(1, Math.ceil(nextInMs / 1000)),
  };
}

/**
 * Leases: a busy caller would cost a Redis round trip per request (at a few thousand requests a second, the
 * largest share of a cached read's time). So a process takes several tokens from the shared bucket at once
 * and spends them itself, for at most LEASE_MS; what it did not spend goes back to the bucket with its next
 * call. The bucket stays the one truth: tokens are taken from it before they are spent, so the limit is never
 * exceeded, whatever the number of processes; a lease only makes other processes refuse up to its size
 * sooner. A lease is at most 1 % of the bucket's burst (so buckets under 200, the anonymous and login ones,
 * lease one token: every request asks Redis, exactly as without leases), and it grows with use: twice what
 * the last lease spent. Redis's own refusal is never leased: a refused request asked Redis.
 */
const LEASE_MS = 100;
const MAX_LEASES = 100_000;
/** How long a lease that is over is kept (for its size, and the tokens it gives back), after LEASE_MS. */
const FORGET_MS = 1_000;
const LEASE_SHARE = 0.01;

interface Lease {
  tokens: number;
  granted: number;
  until: number;
  /** Redis's verdict when the lease was taken: what each request of the lease reports. */
  verdict: Verdict;
  /** The call to Redis under way for this key, which every request that finds the lease empty waits for. */
  refill: Promise<Verdict | null | undefined> | undefined;
}

/** One bucket's part of a script call: what it asks, and where its answer goes. */
interface Ask {
  key: string;
  bucket: Bucket;
  want: number;
  giveBack: number;
  resolve: (answer: number[]) => void;
  reject: (err: unknown) => void;
}

/** Buckets per script call at most (a busy turn of the event loop asks for more in several calls). */
const MAX_KEYS_PER_CALL = 200;

/** An ask's ARGV in the script: rate per minute, burst, tokens asked for, tokens given back. */
const argsOf = (ask: Ask) => [ask.bucket.requests_per_minute, ask.bucket.burst, ask.want, ask.giveBack] as const;

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisClient & {
    opsdeckTokenBuckets?: (...keysThenArgs: (string | number)[]) => Promise<number[]>;
    opsdeckTokenBucket?: (key: string, rate: number, burst: number, want: number, giveBack: number) => Promise<number[]>;
  };
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #leases = new Map<string, Lease>();
  #nextSweep = 0;
  /** The asks of this turn of the event loop, sent together when it ends. */
  #asks: Ask[] = [];

  constructor(redis: RedisClient, prefix: string, log: Logger, timeoutMs: number) {
    redis.defineCommand('opsdeckTokenBuckets', { lua: TOKEN_BUCKETS });
    // The same script for one bucket, its key count declared: a cluster client routes (and pipelines) a command by
    // its keys, which it cannot read from a script whose key count is an argument.
    redis.defineCommand('opsdeckTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKETS });
    this.#redis = redis;
    this.#prefix = `${prefix}rl:`;
    this.#log = log;
    this.#timeoutMs = timeoutMs;
  }

  /** `null` when Redis did not answer in time: the caller applies `when_redis_fails`. */
  async take(key: string, bucket: Bucket): Promise<Verdict | null> {
    for (;;) {
      const lease = this.#leases.get(key);
      if (lease && lease.tokens > 0 && performance.now() < lease.until) {
        lease.tokens -= 1;
        return { ...lease.verdict, remaining: lease.verdict.remaining + lease.tokens };
      }
      const state = lease ?? this.#open(key);
      state.refill ??= this.#refill(key, bucket, state).finally(() => (state.refill = undefined));
      const refused = await state.refill;
      if (refused !== undefined) return refused;
    }
  }

  #open(key: string): Lease {
    const now = performance.now();
    if (now >= this.#nextSweep || this.#leases.size >= MAX_LEASES) this.#sweep(now);
    const lease: Lease = { tokens: 0, granted: 0, until: 0, verdict: { allowed: false, limit: 0, remaining: 0, reset: 0, retryAfter: 1 }, refill: undefined };
    this.#leases.set(key, lease);
    return lease;
  }

  /**
   * Forgets the leases over for FORGET_MS (their unspent tokens, a few at most, are not given back: the bucket
   * is short of them until it refills, never over). A fleet's agents each have a bucket of their own, used once
   * every half minute: keeping all their leases (100,000 of them) gained nothing, and made every full garbage
   * collection mark them. Past MAX_LEASES all are dropped (a flood of distinct keys).
   */
  #sweep(now: number): void {
    this.#nextSweep = now + FORGET_MS;
    for (const [key, lease] of this.#leases) if (lease.refill === undefined && lease.until + FORGET_MS < now) this.#leases.delete(key);
    if (this.#leases.size >= MAX_LEASES) this.#leases.clear();
  }

  /** A new lease from Redis (undefined), or the answer every waiting request gets: refused (a verdict) or Redis failed (null). */
  async #refill(key: string, bucket: Bucket, lease: Lease): Promise<Verdict | null | undefined> {
    const giveBack = lease.tokens;
    const spent = lease.granted - lease.tokens;
    const want = Math.max(1, Math.min(Math.floor(bucket.burst * LEASE_SHARE), spent * 2));
    lease.tokens = 0;
    lease.granted = 0;
    try {
      const [granted, tokens, fullIn, nextIn, now] = await this.#ask(key, bucket, want, giveBack);
      const answer = verdict(bucket, granted! > 0, tokens!, fullIn!, nextIn!, now!);
      if (granted === 0) return answer;
      Object.assign(lease, { tokens: granted!, granted: granted!, until: performance.now() + LEASE_MS, verdict: answer });
      return undefined;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, key }, 'rate limiter: redis failed, request allowed');
      return null;
    }
  }

  /**
   * One bucket's tokens, asked for with the other asks of this turn of the event loop in one script call: a
   * fleet's agents each have a bucket of their own, so their requests (thousands a second) could not share a
   * lease, and a call per request (a command, its timers and its answer) was most of the limiter's cost. On a
   * Redis Cluster the buckets of one call would have to share a hash slot, which different callers' keys do not:
   * there each bucket is its own call.
   */
  #ask(key: string, bucket: Bucket, want: number, giveBack: number): Promise<number[]> {
    return new Promise((resolve, reject) => {
      this.#asks.push({ key, bucket, want, giveBack, resolve, reject });
      if (this.#asks.length === 1) setImmediate(() => this.#send());
    });
  }

  #send(): void {
    const asks = this.#asks;
    this.#asks = [];
    const cluster = isCluster(this.#redis);
    const perCall = cluster ? 1 : MAX_KEYS_PER_CALL;
    for (let from = 0; from < asks.length; from += perCall) {
      const call = asks.slice(from, from + perCall);
      const keys = call.map((ask) => `${this.#prefix}${ask.key}`);
      const run = cluster ? this.#redis.opsdeckTokenBucket!(keys[0]!, ...argsOf(call[0]!)) : this.#redis.opsdeckTokenBuckets!(keys.length, ...keys, ...call.flatMap(argsOf));
      withTimeout(run, this.#timeoutMs, `rate limiter: redis did not answer within ${this.#timeoutMs} ms`).then(
        (answer) => call.forEach((ask, i) => ask.resolve(answer.slice(i * 5, i * 5 + 5))),
        (err: unknown) => call.forEach((ask) => ask.reject(err)),
      );
    }
  }
}

export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  async take(key: string, bucket: Bucket): Promise<Verdict> {
    const now = Date.now();
    const rate = bucket.requests_per_minute / 60_000;
    const state = this.#buckets.get(key) ?? { tokens: bucket.burst, at: now };
    let tokens = Math.min(bucket.burst, state.tokens + (now - state.at) * rate);
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    if (this.#buckets.size > 100_000) this.#buckets.clear();
    this.#buckets.set(key, { tokens, at: now });
    return verdict(bucket, allowed, tokens, Math.ceil((bucket.burst - tokens) / rate), tokens < 1 ? Math.ceil((1 - tokens) / rate) : 0, now);
  }
}

export interface RateLimitSettings {
  enabled: boolean;
  tiers: RateLimitSpec['tiers'];
  limiters: RateLimitSpec['limiters'];
}

/** The spec's limits, with configuration's overrides (RATE_LIMITS: rates and bursts) on top. */
export function rateLimitSettings(enabled: boolean, overrides: Partial<Pick<RateLimitSpec, 'tiers' | 'limiters'>>): RateLimitSettings {
  const limiters = { ...rateLimits.limiters };
  for (const [name, bucket] of Object.entries(overrides.limiters ?? {})) limiters[name] = { ...limiters[name], ...bucket };
  return { enabled, tiers: { ...rateLimits.tiers, ...overrides.tiers }, limiters };
}

export interface Subject {
  /** `api_key:<id>`, `user:<id>`; absent for an anonymous caller (its address is used). */
  identity: string | null;
  tier: Exclude<Tier, 'anonymous'> | null;
  clientIp: string;
  /** For a limiter counted per presented credential: the credential's digest (the key) and its public part (the label). */
  presented?: { digest: string; label: string };
}

/** Decides which bucket a request spends from, and spends it. */
export class RateLimitPolicy {
  readonly #limiter: RateLimiter;
  readonly #settings: RateLimitSettings;

  constructor(limiter: RateLimiter, settings: RateLimitSettings) {
    this.#limiter = limiter;
    this.#settings = settings;
  }

  /** `null` when the operation is exempt, limits are off, or the limiter failed open. */
  async check(rule: OperationEntry['rateLimit'], subject: Subject): Promise<(Verdict & { bucket: string }) | null> {
    if (!this.#settings.enabled || rule.kind === 'exempt') return null;
    let key: string;
    let bucket: Bucket;
    let label: string;
    if (rule.kind === 'limiter' && (rule.per === 'client_address' || subject.presented)) {
      const by = subject.presented ?? { digest: subject.clientIp, label: subject.clientIp };
      key = `${rule.name}:${by.digest}`;
      bucket = this.#settings.limiters[rule.name]!;
      label = `${rule.name}:${by.label}`;
    } else if (subject.identity && subject.tier) {
      key = subject.identity;
      bucket = this.#settings.tiers[subject.tier];
      label = `${subject.identity}/${subject.tier}`;
    } else {
      key = `ip:${subject.clientIp}`;
      bucket = this.#settings.tiers.anonymous;
      label = `${key}/anonymous`;
    }
    const verdict = await this.#limiter.take(key, bucket);
    return verdict && { ...verdict, bucket: label };
  }
}
