// The change feed: what each server process follows to keep its per-process caches current without asking
// PostgreSQL on every request. Triggers write every change a cache depends on into the table change_feed
// (migrations 2026-12-02T1000 and T2000): who a credential belongs to and what it may do (kinds user,
// membership, api_key, agent_key, agent: read by the caller cache, server/auth/caller-cache.ts) and any update
// or deletion of an agent (kind agent_row: read by the agents' cache, server/db/cached-rows.ts), and what changes an
// agent's sign-of-life answer (kind agent_work: its tasks and its status, read by agent-protocol.sign-of-life.ts).
//
// Why a polled table and not LISTEN/NOTIFY or invalidation over Redis: triggers cannot be forgotten by a new
// write path (a manual UPDATE in psql is seen too), the feed needs no Redis (a Redis outage changes nothing
// here), and it holds no session state (it works through PgBouncer in transaction mode, unlike LISTEN).
//
// The ceiling: a cache is trusted only while the last successful read of the feed began less than TRUST_MS
// ago. A change committed before that read is seen by every process within POLL_MS plus one read (well under
// 1 s); when the database cannot be read, caches stop being trusted after TRUST_MS and every request reads
// PostgreSQL again (or fails with 503 while it is down). Staleness is never more than TRUST_MS, whatever
// fails. The caches keep their entries through such a gap, unused: the read that ends it applies every change
// made meanwhile before the caches are trusted again, so a fleet's 100,000 agents are not all read from
// PostgreSQL again after a one-second hiccup (only a gap long enough for changes to be pruned drops them). A process that writes reads the feed once more before it answers (`refresh`), so its own caches
// reflect its own writes at once.
import { sql } from 'kysely';
import type { Logger } from '../logger.ts';
import type { ChangeFeedTable } from './schema.ts';
import type { Executor } from './executor.ts';

export type ChangeKind = ChangeFeedTable['kind'];

export interface Change {
  id: number;
  kind: ChangeKind;
  /** A user id (user, membership), a key prefix (api_key, agent_key), an agent id (agent, agent_row, agent_work). */
  subject: string;
}

/** The table change_feed, as the follower reads it. */
export interface ChangeFeed {
  /** The id of the newest change, 0 when there is none. */
  latest(): Promise<number>;
  /** Changes after `id` and those of `missing` that are there now, oldest first, at most `limit`. */
  since(id: number, missing: readonly number[], limit: number): Promise<Change[]>;
  /** Deletes the changes up to `id` (on the primary key: no scan of the whole table, however large it is). */
  prune(throughId: number): Promise<void>;
}

/** What a cache does with the feed: drop what a change names, or everything (the feed ran ahead of a read). */
export interface ChangeListener {
  apply(change: Change): void;
  dropAll(): void;
}

export const POLL_MS = 200;
export const TRUST_MS = 1000;
const BATCH = 5000;
/**
 * Ids are handed out when a change is written, not when its transaction commits, so a change can become
 * visible after one with a higher id. An id skipped by a read is therefore asked for again on every poll
 * until it appears or SETTLE_MS has passed (a rolled-back transaction's id never appears). Each read costs
 * what is new plus these few, whatever the feed's volume (heartbeats write a change per agent).
 */
const SETTLE_MS = 10_000;
/** More ids missing than this (a huge rolled-back batch): they are given up at once and every cache dropped. */
const MAX_MISSING = 10_000;
/**
 * Pruning: what each read was at, sampled every PRUNE_EVERY_MS; changes older than KEEP_CHANGES_MS (far past
 * SETTLE_MS) are deleted by id, in small steps: a fleet's heartbeats write thousands of changes a second, and
 * one delete of ten minutes' worth (millions of rows) stalled PostgreSQL. A process whose reads stop is not
 * trusted, so its caches are empty when it reads again: changes pruned meanwhile cannot leave anything stale.
 */
const PRUNE_EVERY_MS = 15_000;
const KEEP_CHANGES_MS = 2 * 60_000;

/** A follower's read: the changes after `id` and those of `missing`, oldest first, at most `limit`. */
export function changesSince(db: Executor, id: number, missing: readonly number[], limit: number) {
  return (
    db
      .selectFrom('change_feed')
      .select(['kind', 'subject', sql<string>`id::text`.as('id')])
      .where((w) => (missing.length === 0 ? w('id', '>', String(id)) : w.or([w('id', '>', String(id)), w('id', 'in', missing.map(String))])))
      // The column, not the output `id` (text): ordering by that sorted every row past the cursor as strings
      // ('10000' before '9999') and could not use the primary key, a sort of the whole table on every read.
      .orderBy('change_feed.id')
      .limit(limit)
  );
}

/** `reads` follow the feed (a connection of its own, see server.ts); `writes` prune it (the pool: a delete and its
 * commit may wait on the disk, and must not hold up the reads). */
export function changeFeed(reads: Executor, writes: Executor = reads): ChangeFeed {
  const db = reads;
  return {
    async latest() {
      const row = await db.selectFrom('change_feed').select(sql<string | null>`max(id)::text`.as('id')).executeTakeFirst();
      return Number(row?.id ?? 0);
    },
    async since(id, missing, limit) {
      const rows = await changesSince(db, id, missing, limit).execute();
      return rows.map((r): Change => ({ id: Number(r.id), kind: r.kind, subject: r.subject }));
    },
    async prune(throughId) {
      await writes.deleteFrom('change_feed').where('id', '<=', String(throughId)).execute();
    },
  };
}

/** Follows the feed every `pollMs` and hands each change, once, to the caches listening. */
export class ChangeFeedFollower {
  readonly #feed: ChangeFeed;
  readonly #log: Logger;
  readonly #options: { pollMs: number; trustMs: number; keepMs: number };
  readonly #listeners: ChangeListener[] = [];
  /** The highest id read. */
  #cursor = 0;
  /** Ids below the cursor not read yet (their transactions had not committed), with when they were first missed. */
  readonly #missing = new Map<number, number>();
  /** When the last successful read of the feed began (0: never). */
  #readAt = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Where the cursor stood at times past (sampled every PRUNE_EVERY_MS, oldest first): what may be pruned. */
  readonly #marks: { at: number; cursor: number }[] = [];
  #polling: Promise<void> | undefined;
  #refreshing: Promise<void> | undefined;
  #pruning: Promise<void> | undefined;

  constructor(feed: ChangeFeed, log: Logger, options: Partial<{ pollMs: number; trustMs: number; keepMs: number }> = {}) {
    this.#feed = feed;
    this.#log = log;
    this.#options = { pollMs: options.pollMs ?? POLL_MS, trustMs: options.trustMs ?? TRUST_MS, keepMs: options.keepMs ?? KEEP_CHANGES_MS };
  }

  listen(listener: ChangeListener): void {
    this.#listeners.push(listener);
  }

  /** Reads where the feed stands, then follows it every `pollMs` until `stop`. */
  async start(): Promise<void> {
    const startedAt = Date.now();
    try {
      this.#cursor = await this.#feed.latest();
      this.#readAt = startedAt;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'change feed: cannot be read yet; caches are bypassed until it can');
    }
    this.#timer = setInterval(() => void this.poll(), this.#options.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#polling;
    await this.#pruning;
  }

  /** Whether cached entries may be used now (see the ceiling above). */
  get trusted(): boolean {
    return this.#readAt > 0 && Date.now() - this.#readAt < this.#options.trustMs;
  }

  /** One read of the feed (joins the read under way, if any). */
  poll(): Promise<void> {
    return (this.#polling ??= this.#read().finally(() => (this.#polling = undefined)));
  }

  /**
   * A change this process has just made and knows the subject of, handed to the caches at once, without a
   * read of the feed (which brings it to every other process, and here again, harmlessly).
   */
  applyLocal(change: Omit<Change, 'id'>): void {
    for (const listener of this.#listeners) listener.apply({ id: 0, ...change });
  }

  /**
   * A read of the feed that begins after this call: what this process has just written is then reflected
   * in its caches before its answer leaves (a key revoked through this process is refused by it at once).
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
      for (const [id, since] of this.#missing) if (startedAt - since > SETTLE_MS) this.#missing.delete(id);
      const changes = await this.#feed.since(this.#cursor, [...this.#missing.keys()], BATCH);
      for (const change of changes) {
        for (const listener of this.#listeners) listener.apply(change);
        if (!this.#missing.delete(change.id)) {
          for (let id = this.#cursor + 1; id < change.id && this.#missing.size <= MAX_MISSING; id++) this.#missing.set(id, startedAt);
          this.#cursor = change.id;
        }
      }
      // A gap in the reads leaves the caches' entries in place, unused (not trusted) until a read has applied every
      // change made meanwhile; a gap long enough that changes may have been pruned before this process read them
      // (other processes prune what is KEEP_CHANGES_MS old) drops them all instead, as does a backlog past one read.
      const gap = this.#readAt > 0 && startedAt - this.#readAt > this.#options.keepMs / 2;
      if (gap || changes.length === BATCH || this.#missing.size > MAX_MISSING) {
        // More than one read holds: every cache starts again, from the newest change.
        for (const listener of this.#listeners) listener.dropAll();
        this.#cursor = Math.max(this.#cursor, await this.#feed.latest());
        this.#missing.clear();
      }
      // Caches were bypassed meanwhile: a fleet then reads PostgreSQL on every request, worth an operator's look.
      if (this.#readAt > 0 && startedAt - this.#readAt >= this.#options.trustMs) this.#log.warn({ untrusted_ms: startedAt - this.#readAt }, 'change feed: read again after a gap; caches were bypassed meanwhile');
      this.#readAt = startedAt;
      this.#pruning ??= this.#prune(startedAt).finally(() => (this.#pruning = undefined));
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'change feed: could not be read');
    }
  }

  async #prune(now: number): Promise<void> {
    const last = this.#marks.at(-1);
    if (last !== undefined && now - last.at < PRUNE_EVERY_MS) return;
    this.#marks.push({ at: now, cursor: this.#cursor });
    let through: number | undefined;
    while (this.#marks.length > 0 && now - this.#marks[0]!.at >= this.#options.keepMs) through = this.#marks.shift()!.cursor;
    if (through === undefined || through <= 0) return;
    try {
      await this.#feed.prune(through);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'change feed: could not be pruned');
    }
  }
}
