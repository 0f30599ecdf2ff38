// The caller without a database round trip. Resolving a credential (the user behind a token, an API key, an
// agent key) costs a PostgreSQL query; most requests come from callers seen a moment ago, so each process keeps
// what it resolved and reuses it while it is known to be current.
//
// How it stays current: the change feed (server/db/change-feed.ts), written by triggers on every change to
// identity (a user's role, activity, password, tier or email; a team membership; an API key's revocation,
// expiry or scopes; an agent key; an agent's team; any deletion). Each process follows it and drops the
// entries a change names; the feed's ceiling is this cache's: an entry is used only while the feed is trusted
// (read less than TRUST_MS, 1 s, ago), so staleness is never more than that, whatever fails. Why this and not
// claims in the token: the feed covers API keys and agent keys too, which a token's claims could not.
import type { Change, ChangeFeedFollower, ChangeListener } from '../db/change-feed.ts';
import type { AgentCertificateIdentity, AgentKeyIdentity, ApiKeyIdentity, CallerDirectory, UserIdentity } from './authenticate.ts';

/**
 * Per kind (users, API keys, agent keys): a fleet of 100,000 agents is 100,000 agent keys, each used every
 * half minute; a smaller cache would drop and reload them all the time (~300 bytes an entry: 60 MB at most).
 */
const MAX_ENTRIES = 200_000;
/**
 * Entries are also dropped after this long, whatever the feed says (a bound should the feed miss anything). Long
 * enough that a fleet's keys are not all read again every few heartbeats (100,000 agents with a one-minute bound
 * were 1,700 reads a second), short enough to bound what a missed change could cost.
 */
const MAX_AGE_MS = 10 * 60_000;
const TOUCH_EVERY_MS = 60_000;

interface Entry<T> {
  value: T | undefined;
  at: number;
}

export class CachedCallerDirectory implements CallerDirectory, ChangeListener {
  readonly #inner: CallerDirectory;
  readonly #feed: ChangeFeedFollower;
  readonly #users = new Map<string, Entry<UserIdentity>>();
  readonly #apiKeys = new Map<string, Entry<ApiKeyIdentity>>();
  readonly #agentKeys = new Map<string, Entry<AgentKeyIdentity>>();
  readonly #agentCertificates = new Map<string, Entry<AgentCertificateIdentity>>();
  readonly #touched = new Map<string, number>();
  /** Bumped whenever entries are dropped: a lookup that began before it must not store what it read. */
  #generation = 0;

  constructor(inner: CallerDirectory, feed: ChangeFeedFollower) {
    this.#inner = inner;
    this.#feed = feed;
    feed.listen(this);
  }

  apply(change: Change): void {
    // Rows and work of agents say nothing about who a credential is.
    if (change.kind === 'agent_row' || change.kind === 'agent_work') return;
    this.#generation += 1;
    if (change.kind === 'user' || change.kind === 'membership') this.#users.delete(change.subject);
    else if (change.kind === 'api_key') this.#apiKeys.delete(change.subject);
    else if (change.kind === 'agent_key') this.#agentKeys.delete(change.subject);
    else if (change.kind === 'agent_cert') this.#agentCertificates.delete(change.subject);
    else {
      for (const [prefix, entry] of this.#agentKeys) if (entry.value?.agent_id === change.subject) this.#agentKeys.delete(prefix);
      for (const [serial, entry] of this.#agentCertificates) if (entry.value?.agent_id === change.subject) this.#agentCertificates.delete(serial);
    }
  }

  dropAll(): void {
    this.#generation += 1;
    this.#users.clear();
    this.#apiKeys.clear();
    this.#agentKeys.clear();
    this.#agentCertificates.clear();
  }

  async #lookup<T>(map: Map<string, Entry<T>>, key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const now = Date.now();
    if (!this.#feed.trusted) return load();
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

  findAgentCertificate(serialNumber: string): Promise<AgentCertificateIdentity | undefined> {
    return this.#lookup(this.#agentCertificates, serialNumber, () => this.#inner.findAgentCertificate(serialNumber));
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
