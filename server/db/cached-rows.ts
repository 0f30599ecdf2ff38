// A per-process cache of one kind of team-owned resource, by id, as its service answers it: what lets a read
// of a single resource (`getAgent`, the hottest read of the fleet) skip PostgreSQL. It stays current by the
// change feed (change-feed.ts), whose triggers note every update and deletion of the resource's row whoever
// makes it; its ceiling is the feed's: an entry is used only while the feed is trusted, so what another
// process changed is seen here within well under a second, never later than TRUST_MS (1 s); what this process
// changed is seen before its write is answered (the pipeline refreshes the feed after a write).
//
// Tenant isolation does not depend on the cache: an entry is filled only by the caller's own team-scoped
// query, and a hit is answered only to a caller of the resource's team (anyone else gets the same
// "not found" the query would give). Misses are never kept (the resource may be created any moment).
import type { ChangeFeedFollower, ChangeKind, ChangeListener, Change } from './change-feed.ts';

interface Entry<T> {
  value: T;
  teamId: string;
}

export class CachedRows<T> implements ChangeListener {
  readonly #kind: ChangeKind;
  readonly #feed: ChangeFeedFollower;
  readonly #maxEntries: number;
  readonly #teamOf: (value: T) => string;
  readonly #entries = new Map<string, Entry<T>>();
  /** Bumped whenever entries are dropped: a read that began before it must not store what it read. */
  #generation = 0;

  /** `maxEntries`: past it the oldest entry goes (each entry is one resource as the API shows it, ~1 KB). */
  constructor(kind: ChangeKind, feed: ChangeFeedFollower, teamOf: (value: T) => string, maxEntries: number) {
    this.#kind = kind;
    this.#feed = feed;
    this.#teamOf = teamOf;
    this.#maxEntries = maxEntries;
    feed.listen(this);
  }

  apply(change: Change): void {
    if (change.kind !== this.#kind) return;
    this.#generation += 1;
    this.#entries.delete(change.subject);
  }

  dropAll(): void {
    this.#generation += 1;
    this.#entries.clear();
  }

  /** The resource `id` if it belongs to one of `teamIds`: from the cache when it is current, else from `load` (the team-scoped query). */
  async get(id: string, teamIds: readonly string[], load: () => Promise<T | undefined>): Promise<T | undefined> {
    if (!this.#feed.trusted) return load();
    const hit = this.#entries.get(id);
    if (hit) return teamIds.includes(hit.teamId) ? hit.value : undefined;
    const generation = this.#generation;
    const value = await load();
    if (value !== undefined && generation === this.#generation) {
      if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(id, { value, teamId: this.#teamOf(value) });
    }
    return value;
  }
}
