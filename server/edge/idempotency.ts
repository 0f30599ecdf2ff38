// Idempotency keys with Stripe's semantics (api-conventions.md): the first answer to a key is stored
// for 24 h and replayed for the same request; the same key with a different request is refused; a
// duplicate while the first is still running is refused. Keys are scoped to the caller. Records live
// in Redis (shared by every process; `SET NX` makes exactly one request the first), else in memory.
// Answers kept in Redis are sealed (AES-256-GCM, secret-box.ts): a create that shows a secret once (an API
// key, a webhook's signing secret, an agent key) is replayed with it, and Redis must not hold it in clear.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/client.ts';
import type { SecretBox } from '../auth/secret-box.ts';
import type { Logger } from '../logger.ts';
import { ApiError } from '../http/errors.ts';

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

interface IdempotencyRecord {
  state: 'in_flight' | 'done';
  fingerprint: string;
  answer?: StoredAnswer;
}

/** A record as Redis keeps it: the answer sealed, bound to its key; a claim names its holder. */
interface SealedRecord {
  state: IdempotencyRecord['state'];
  fingerprint: string;
  sealed?: string;
  /** A claim's holder: a token of the request that made it, so only that request can refresh or free it. */
  owner?: string;
}

/** `claim` names this request's hold on the key; pass it back to `finish` and `release`. */
export type Begin = { kind: 'first'; claim: string } | { kind: 'replay'; answer: StoredAnswer };

const KEEP_MS = 24 * 3600 * 1000;
// A claim lives CLAIM_MS unless its holder refreshes it, which it does every REFRESH_MS while it works,
// so a claim outlives the request that made it (a process that died, a request that gave up while its
// claim was still on its way to Redis) by CLAIM_MS at most.
export const CLAIM_MS = 5_000;
const REFRESH_MS = 1_500;
// No request works this long; a holder stuck past it stops refreshing, so its key frees itself.
const MAX_HOLD_MS = 60_000;

// Compare-and-act on a claim: only the holder (the exact claim it wrote) may refresh or free it, so a
// late command of a request that gave up never touches a newer claim of another.
const REFRESH_CLAIM = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const FREE_CLAIM = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface IdempotencyStore {
  /** Claims the key for this request, or says what to do instead; throws 409/422 for the refusals. */
  begin(key: string, fingerprint: string): Promise<Begin>;
  /**
   * Stores the answer of the request that holds the key, and ends its claim. `claim` (from `begin`)
   * says which request; without it, this process's latest claim of the key is meant.
   */
  finish(key: string, fingerprint: string, answer: StoredAnswer, claim?: string): Promise<void>;
  /** Frees the key after a failure worth retrying (5xx), so a retry does the work; only the holder's claim is freed. */
  release(key: string, claim?: string): Promise<void>;
}

function decide(existing: IdempotencyRecord, fingerprint: string): Begin {
  if (existing.fingerprint !== fingerprint) {
    throw new ApiError('VAL_IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different request', {
      details: [{ field: 'Idempotency-Key', message: 'already used, within 24 hours, for a different request' }],
    });
  }
  if (existing.state === 'in_flight' || !existing.answer) {
    throw new ApiError('RES_IDEMPOTENCY_IN_FLIGHT', 'A request with this Idempotency-Key is still in progress; retry shortly', {
      headers: { 'Retry-After': '1' },
    });
  }
  return { kind: 'replay', answer: existing.answer };
}

/** A claim this process holds: the exact value it wrote, and the timer that keeps it alive. */
interface HeldClaim {
  readonly token: string;
  readonly value: string;
  readonly timer: NodeJS.Timeout;
}

export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #box: SecretBox;
  /** The claims held by requests of this process, by store key and token. */
  readonly #held = new Map<string, Map<string, HeldClaim>>();

  constructor(redis: RedisClient, prefix: string, log: Logger, box: SecretBox) {
    this.#redis = redis;
    this.#prefix = `${prefix}idem:`;
    this.#log = log;
    this.#box = box;
  }

  #unseal(redisKey: string, stored: string): IdempotencyRecord {
    const { state, fingerprint, sealed } = JSON.parse(stored) as SealedRecord;
    return { state, fingerprint, ...(sealed ? { answer: JSON.parse(this.#box.open(sealed, redisKey)) as StoredAnswer } : {}) };
  }

  async begin(key: string, fingerprint: string): Promise<Begin> {
    const redisKey = this.#prefix + key;
    const token = randomUUID();
    const value = JSON.stringify({ state: 'in_flight', fingerprint, owner: token } satisfies SealedRecord);
    try {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const claimed = await this.#redis.set(redisKey, value, 'PX', CLAIM_MS, 'NX');
        if (claimed === 'OK') {
          this.#hold(key, token, value);
          return { kind: 'first', claim: token };
        }
        const existing = await this.#redis.get(redisKey);
        if (existing !== null) return decide(this.#unseal(redisKey, existing), fingerprint);
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      this.#log.error({ err: (err as Error).message }, 'idempotency: redis failed');
      // The claim may still be written after this request has given up (Redis stalled with the command
      // on its way: a paused or overloaded server runs it when it wakes). Withdraw it, in case: sent on
      // the same connection, this runs right after it. Not awaited: Redis may be stalled still.
      this.#free(redisKey, value);
    }
    // Without the store, carrying the request out could do the work twice: refuse it for now.
    throw new ApiError('EXT_SERVICE_UNAVAILABLE', 'Idempotency keys cannot be checked right now; retry shortly', { headers: { 'Retry-After': '5' } });
  }

  async finish(key: string, fingerprint: string, answer: StoredAnswer, claim?: string): Promise<void> {
    this.#unhold(key, claim);
    const redisKey = this.#prefix + key;
    // Written whatever holds the key now: the work is done, and its answer is the one to replay (a
    // claim lost meanwhile means another request is doing it again, and its answer will follow).
    const record: SealedRecord = { state: 'done', fingerprint, sealed: this.#box.seal(JSON.stringify(answer), redisKey) };
    await this.#redis.set(redisKey, JSON.stringify(record), 'PX', KEEP_MS).catch((err: unknown) => {
      this.#log.error({ err: (err as Error).message }, 'idempotency: could not store an answer');
    });
  }

  async release(key: string, claim?: string): Promise<void> {
    const held = this.#unhold(key, claim);
    if (held) await this.#free(this.#prefix + key, held.value);
  }

  #hold(key: string, token: string, value: string): void {
    const redisKey = this.#prefix + key;
    const since = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - since > MAX_HOLD_MS) {
        this.#log.warn({ key }, 'idempotency: a request held its key too long; the claim is left to expire');
        this.#unhold(key, token);
        return;
      }
      this.#redis.eval(REFRESH_CLAIM, 1, redisKey, value, CLAIM_MS).catch((err: unknown) => {
        this.#log.warn({ err: (err as Error).message }, 'idempotency: could not refresh a claim');
      });
    }, REFRESH_MS);
    timer.unref();
    const claims = this.#held.get(key) ?? new Map<string, HeldClaim>();
    claims.set(token, { token, value, timer });
    this.#held.set(key, claims);
  }

  /** Stops refreshing the claim `token` (without one, the latest claim of `key`); returns what was held. */
  #unhold(key: string, token: string | undefined): HeldClaim | undefined {
    const claims = this.#held.get(key);
    if (!claims) return undefined;
    const held = token === undefined ? [...claims.values()].at(-1) : claims.get(token);
    if (!held) return undefined;
    clearInterval(held.timer);
    claims.delete(held.token);
    if (claims.size === 0) this.#held.delete(key);
    return held;
  }

  #free(redisKey: string, value: string): Promise<void> {
    return this.#redis.eval(FREE_CLAIM, 1, redisKey, value).then(
      () => undefined,
      (err: unknown) => this.#log.warn({ err: (err as Error).message }, 'idempotency: could not free a claim; it expires by itself'),
    );
  }
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #records = new Map<string, IdempotencyRecord & { until: number; owner?: string }>();

  async begin(key: string, fingerprint: string): Promise<Begin> {
    const existing = this.#records.get(key);
    if (existing && existing.until > Date.now()) return decide(existing, fingerprint);
    const claim = randomUUID();
    // In one process, a request always ends with finish or release; the limit only frees the key of one that never ends.
    this.#records.set(key, { state: 'in_flight', fingerprint, until: Date.now() + MAX_HOLD_MS, owner: claim });
    return { kind: 'first', claim };
  }

  async finish(key: string, fingerprint: string, answer: StoredAnswer): Promise<void> {
    if (this.#records.size > 100_000) this.#records.clear();
    this.#records.set(key, { state: 'done', fingerprint, answer, until: Date.now() + KEEP_MS });
  }

  async release(key: string, claim?: string): Promise<void> {
    const existing = this.#records.get(key);
    if (existing?.state === 'in_flight' && (claim === undefined || existing.owner === claim)) this.#records.delete(key);
  }
}
