// The caller without a database round trip. Resolving a credential (the user behind a token, an API key, an
// agent key) costs a PostgreSQL query; most requests come from callers seen a moment ago, so each process keeps
// what it resolved and reuses it while it is known to be current.
//
// How it stays current: triggers write every change to identity (a user's role, activity, password, tier or
// email; a team membership; an API key's revocation, expiry or scopes; an agent key; an agent's team; any
// deletion) into the table identity_changes (migration 2026-12-02T1000). Each process reads that feed every
// POLL_MS and drops the entries it names. Why this and not claims in the token or invalidation over Redis:
// triggers cannot be forgotten by a new write path (a security bug waiting to happen with explicit
// invalidation calls), the feed needs no Redis (so a Redis outage changes nothing here), it needs no session
// state (works through PgBouncer in transaction mode, unlike LISTEN), and it covers API keys and agent keys,
// which a token's claims could not.
//
// The ceiling: the cache is trusted only while the last successful read of the feed began less than TRUST_MS
// ago. A change committed before that read is therefore seen by every process within POLL_MS plus one read
// (well under 1 s); when the database cannot be read, cached callers stop being trusted after TRUST_MS and
// every request resolves its caller from PostgreSQL again (or fails with 503 while it is down). Staleness is
// never more than TRUST_MS (1 s), whatever fails.
import type { Logger } from '../logger.ts';
import type { AgentKeyIdentity, ApiKeyIdentity, CallerDirectory, UserIdentity } from './authenticate.ts';

export type IdentityChangeKind = 'user' | 'membership' | 'api_key' | 'agent_key' | 'agent';

export interface IdentityChange {
  id: number;
  kind: IdentityChangeKind;
  /** A user id (user, membership), a key prefix (api_key, agent_key), an agent id (agent). */
  subject: string;
  /** How long ago it was written, by the database's clock. */
  ageMs: number;
}

/** The feed of identity changes (identity_changes), implemented by the auth module's repository. */
export interface IdentityChangeFeed {
  /** The id of the newest change, 0 when there is none. */
  latest(): Promise<number>;
  /** Changes after `id`, oldest first, at most `limit`. */
  since(id: number, limit: number): Promise<IdentityChange[]>;
  /** Deletes changes older than `before`. */
  prune(before: Date): Promise<void>;
}

export const POLL_MS = 200;
export const TRUST_MS = 1000;
const BATCH = 5000;
/**
 * Ids are handed out when a change is written, not when its transaction commits, so a change can become
 * visible after one with a higher id. The cursor therefore trails the feed by SETTLE_MS: recent changes are
 * read again on every poll (each applied once), and the cursor moves past a change only once it is that old.
 */
const SETTLE_MS = 10_000;
const MAX_ENTRIES = 100_000;
/** Entries are also dropped after this long, whatever the feed says (a bound should the feed miss anything). */
const MAX_AGE_MS = 60_000;
const TOUCH_EVERY_MS = 60_000;
const PRUNE_EVERY_MS = 5 * 60_000;
const KEEP_CHANGES_MS = 10 * 60_000;

interface Entry<T> {
  value: T | undefined;
  at: number;
}

export class CachedCallerDirectory implements CallerDirectory {
  readonly #inner: CallerDirectory;
  readonly #feed: IdentityChangeFeed;
  readonly #log: Logger;
  readonly #options: { pollMs: number; trustMs: number };
  readonly #users = new Map<string, Entry<UserIdentity>>();
  readonly #apiKeys = new Map<string, Entry<ApiKeyIdentity>>();
  readonly #agentKeys = new Map<string, Entry<AgentKeyIdentity>>();
  readonly #touched = new Map<string, number>();
  #cursor = 0;
  /** The changes above the cursor already applied. */
  readonly #applied = new Set<number>();
  /** When the last successful read of the feed began (0: never). */
  #readAt = 0;
  /** Bumped whenever entries are dropped: a lookup that began before it must not store what it read. */
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastPrune = Date.now();
  #polling: Promise<void> | undefined;

  constructor(inner: CallerDirectory, feed: IdentityChangeFeed, log: Logger, options: Partial<{ pollMs: number; trustMs: number }> = {}) {
    this.#inner = inner;
    this.#feed = feed;
    this.#log = log;
    this.#options = { pollMs: options.pollMs ?? POLL_MS, trustMs: options.trustMs ?? TRUST_MS };
  }

  /** Reads where the feed stands, then follows it every `pollMs` until `stop`. */
  async start(): Promise<void> {
    const startedAt = Date.now();
    try {
      this.#cursor = await this.#feed.latest();
      this.#readAt = startedAt;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'caller cache: the identity feed cannot be read yet; callers are resolved from the database');
    }
    this.#timer = setInterval(() => void this.poll(), this.#options.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#polling;
  }

  /** One read of the feed (joins the read under way, if any). */
  poll(): Promise<void> {
    return (this.#polling ??= this.#read().finally(() => (this.#polling = undefined)));
  }

  #refreshing: Promise<void> | undefined;
  /**
   * A read of the feed that begins after this call: what this process has just written is then reflected
   * here before its answer leaves (a key revoked through this process is refused by it at once).
   */
  refresh(): Promise<void> {
    return (this.#refreshing ??= (this.#polling ?? Promise.resolve()).then(() => {
      this.#refreshing = undefined;
      return this.poll();
    }));
  }

  async #read(): Promise<void> {
    const startedAt = Date.now();
    try {
      const changes = await this.#feed.since(this.#cursor, BATCH);
      if (changes.length === BATCH) {
        // More changes than one read holds: drop everything and start again from the newest.
        this.#dropAll();
        this.#cursor = changes.at(-1)!.id;
        this.#applied.clear();
      } else {
        for (const change of changes) {
          if (this.#applied.has(change.id)) continue;
          this.#apply(change);
          this.#applied.add(change.id);
        }
        for (const change of changes) {
          if (change.ageMs < SETTLE_MS) break;
          this.#cursor = change.id;
          this.#applied.delete(change.id);
        }
      }
      this.#readAt = startedAt;
      if (startedAt - this.#lastPrune > PRUNE_EVERY_MS) {
        this.#lastPrune = startedAt;
        await this.#feed.prune(new Date(startedAt - KEEP_CHANGES_MS));
      }
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'caller cache: the identity feed could not be read');
    }
  }

  #apply(change: IdentityChange): void {
    this.#generation += 1;
    if (change.kind === 'user' || change.kind === 'membership') this.#users.delete(change.subject);
    else if (change.kind === 'api_key') this.#apiKeys.delete(change.subject);
    else if (change.kind === 'agent_key') this.#agentKeys.delete(change.subject);
    else for (const [prefix, entry] of this.#agentKeys) if (entry.value?.agent_id === change.subject) this.#agentKeys.delete(prefix);
  }

  #dropAll(): void {
    this.#generation += 1;
    this.#users.clear();
    this.#apiKeys.clear();
    this.#agentKeys.clear();
  }

  /** Whether cached entries may be used now (see the ceiling above). */
  get trusted(): boolean {
    return this.#readAt > 0 && Date.now() - this.#readAt < this.#options.trustMs;
  }

  async #lookup<T>(map: Map<string, Entry<T>>, key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const now = Date.now();
    if (!this.trusted) {
      if (map.size > 0) this.#dropAll();
      return load();
    }
    const hit = map.get(key);
    if (hit && now - hit.at < MAX_AGE_MS) return hit.value;
    const generation = this.#generation;
    const value = await load();
    // Only what is known to be current is kept: nothing was dropped while it was read, and it exists (a
    // credential that does not exist yet may be created any moment; a miss is never cached).
    if (value !== undefined && generation === this.#generation) {
      if (map.size >= MAX_ENTRIES) map.clear();
      map.set(key, { value, at: now });
    }
    return value;
  }

  findUser(userId: string): Promise<UserIdentity | undefined> {
    return this.#lookup(this.#users, userId, () => this.#inner.findUser(userId));
  }

  findApiKey(prefix: string): Promise<ApiKeyIdentity | undefined> {
    return this.#lookup(this.#apiKeys, prefix, () => this.#inner.findApiKey(prefix));
  }

  findAgentKey(prefix: string): Promise<AgentKeyIdentity | undefined> {
    return this.#lookup(this.#agentKeys, prefix, () => this.#inner.findAgentKey(prefix));
  }

  /** `last_used_at` has a minute's grain: a key used again within the minute is not written again. */
  async touchApiKey(id: string): Promise<void> {
    const now = Date.now();
    if (now - (this.#touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    if (this.#touched.size >= MAX_ENTRIES) this.#touched.clear();
    this.#touched.set(id, now);
    await this.#inner.touchApiKey(id);
  }
}
