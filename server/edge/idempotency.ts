// Idempotency keys with Stripe's semantics (api-conventions.md): the first answer to a key is stored
// for 24 h and replayed for the same request; the same key with a different request is refused; a
// duplicate while the first is still running is refused. Keys are scoped to the caller. Records live
// in Redis (shared by every process; `SET NX` makes exactly one request the first), else in memory.
// Answers kept in Redis are sealed (AES-256-GCM, secret-box.ts): a create that shows a secret once (an API
// key, a webhook's signing secret, an agent key) is replayed with it, and Redis must not hold it in clear.
import type { Redis } from 'ioredis';
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

/** A record as Redis keeps it: the answer sealed, bound to its key. */
interface SealedRecord {
  state: IdempotencyRecord['state'];
  fingerprint: string;
  sealed?: string;
}

export type Begin = { kind: 'first' } | { kind: 'replay'; answer: StoredAnswer };

const KEEP_MS = 24 * 3600 * 1000;
// How long a request may hold its key before another may take over (a process that died mid-way).
const IN_FLIGHT_MS = 60_000;

export interface IdempotencyStore {
  /** Claims the key for this request, or says what to do instead; throws 409/422 for the refusals. */
  begin(key: string, fingerprint: string): Promise<Begin>;
  finish(key: string, fingerprint: string, answer: StoredAnswer): Promise<void>;
  /** Frees the key after a failure worth retrying (5xx), so a retry does the work. */
  release(key: string): Promise<void>;
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

export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #box: SecretBox;

  constructor(redis: Redis, prefix: string, log: Logger, box: SecretBox) {
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
    try {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const claimed = await this.#redis.set(redisKey, JSON.stringify({ state: 'in_flight', fingerprint }), 'PX', IN_FLIGHT_MS, 'NX');
        if (claimed === 'OK') return { kind: 'first' };
        const existing = await this.#redis.get(redisKey);
        if (existing !== null) return decide(this.#unseal(redisKey, existing), fingerprint);
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      this.#log.error({ err: (err as Error).message }, 'idempotency: redis failed');
    }
    // Without the store, carrying the request out could do the work twice: refuse it for now.
    throw new ApiError('EXT_SERVICE_UNAVAILABLE', 'Idempotency keys cannot be checked right now; retry shortly', { headers: { 'Retry-After': '5' } });
  }

  async finish(key: string, fingerprint: string, answer: StoredAnswer): Promise<void> {
    const redisKey = this.#prefix + key;
    const record: SealedRecord = { state: 'done', fingerprint, sealed: this.#box.seal(JSON.stringify(answer), redisKey) };
    await this.#redis.set(redisKey, JSON.stringify(record), 'PX', KEEP_MS).catch((err: unknown) => {
      this.#log.error({ err: (err as Error).message }, 'idempotency: could not store an answer');
    });
  }

  async release(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key).catch(() => undefined);
  }
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #records = new Map<string, IdempotencyRecord & { until: number }>();

  async begin(key: string, fingerprint: string): Promise<Begin> {
    const existing = this.#records.get(key);
    if (existing && existing.until > Date.now()) return decide(existing, fingerprint);
    this.#records.set(key, { state: 'in_flight', fingerprint, until: Date.now() + IN_FLIGHT_MS });
    return { kind: 'first' };
  }

  async finish(key: string, fingerprint: string, answer: StoredAnswer): Promise<void> {
    if (this.#records.size > 100_000) this.#records.clear();
    this.#records.set(key, { state: 'done', fingerprint, answer, until: Date.now() + KEEP_MS });
  }

  async release(key: string): Promise<void> {
    this.#records.delete(key);
  }
}
