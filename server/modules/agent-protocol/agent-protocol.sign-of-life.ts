// An agent's sign of life (a heartbeat, a claim, a metrics report): its `last_seen`, and `online` again if it
// was offline. At fleet scale these are most of the API's writes (100,000 hosts at a 30-second interval are
// 3,300 a second), so they are written in batches, one `UPDATE … FROM` per batch (db/batcher.ts).
//
// What a sign of life answers (the agent's status, its pending tasks) rarely changes between two of them, so an
// agent this process has written before is answered from what its last write returned, at once, while this
// write joins a batch (after GATHER_MS: "write-behind"); a claim, which must see every task claimable now, waits for its
// write (still in a shared batch, so an idle fleet's claims cost what its heartbeats do). The heartbeat's latency is then the server's own, not a batch
// statement's: PostgreSQL's slow moments (a checkpoint, a vacuum) delay `last_seen`, not the fleet's answers.
// What keeps those answers true:
//   - a change of what they say drops the agent's entry: a task of the agent created or changing status, or the
//     agent's status changed by anyone (change feed kind `agent_work`, within the feed's ceiling of 1 s; and
//     while the feed is not trusted, nothing is answered from memory);
//   - an agent not yet written by this process, or whose entry was dropped, waits for its batch, as does every
//     sign while the backlog is long (the database is slow: answers slow down instead of memory growing);
//   - `last_seen` is when the sign was received, so a late or retried write records the true time.
// What is acknowledged is kept: a write that fails is retried until it succeeds (at most one per agent waits,
// the newest), and a graceful stop writes everything waiting before the pool closes (`drain`). Only a crash can
// lose signs answered in the last moments (a batch's worth, tens of milliseconds of a fleet's heartbeats); the
// agent's next heartbeat writes it again. Reads of `last_seen` are behind by the batches under way at most
// (normally tens of milliseconds; documented in the spec's agent protocol).
import type { Kysely } from 'kysely';
import { Batcher } from '../../db/batcher.ts';
import type { Change, ChangeFeedFollower, ChangeListener } from '../../db/change-feed.ts';
import type { Database } from '../../db/schema.ts';
import type { TaggedCache } from '../../edge/tagged-cache.ts';
import { notFound } from '../../http/errors.ts';
import type { Logger } from '../../logger.ts';
import { teamTag } from '../agents/agents.service.ts';
import { touchAgents, type SeenAgent, type SignOfLife } from './agent-protocol.repository.ts';

/** Rows per statement: a batch this size takes PostgreSQL a few milliseconds. */
const MAX_BATCH = 500;
/**
 * One batch under way at a time: the next gathers meanwhile. With two, the statements were twice as many and half
 * as large for the same latency (a statement's round trip, not its rows, is what costs here).
 */
const CONCURRENCY = 1;
/** Past this many signs waiting for a batch, every request waits for its own write (backpressure). */
const MAX_BEHIND = 5_000;
/** How soon a failed write is tried again. */
const RETRY_MS = 1_000;
/**
 * How long signs answered at once gather before they join a batch. Nobody waits for them, so there is no reason
 * to write each on its own: on a quiet server every heartbeat was a statement of its own (the batcher writes at
 * once when idle), and a statement's round trip costs the server more than its row.
 */
const GATHER_MS = 25;

/**
 * How long a batch gathers when none is under way. A claim waits for its sign's write; at a fleet's steady rate,
 * written at once each was a statement of a handful of rows, and the statements (built, sent, their answers read)
 * cost the server more than the claims themselves: with 5 ms, an idle fleet's claim costs what its heartbeat does.
 */
const BATCH_GATHER_MS = 5;

type Answer = Omit<SeenAgent, 'id' | 'previous'>;

export class SignsOfLife implements ChangeListener {
  readonly #batcher: Batcher<SignOfLife, SeenAgent | undefined>;
  readonly #cache: TaggedCache;
  readonly #feed: ChangeFeedFollower;
  readonly #log: Logger;
  /** Per agent, what its last committed sign of life answered. */
  readonly #known = new Map<string, Answer>();
  /** Per batch being written, the agents whose entry was dropped meanwhile: what it read of them may be stale. */
  readonly #droppedDuring = new Set<Set<string>>();
  /** Bumped when every entry is dropped: a batch begun before must keep nothing it read. */
  #generation = 0;
  /** Failed writes to try again, the newest sign per agent. */
  readonly #retry = new Map<string, SignOfLife>();
  #retryTimer: NodeJS.Timeout | undefined;
  /** Signs answered at once, gathering for their batch (the newest per agent). */
  #gathering = new Map<string, SignOfLife>();
  #gatherTimer: NodeJS.Timeout | undefined;

  constructor(db: Kysely<Database>, cache: TaggedCache, feed: ChangeFeedFollower, log: Logger) {
    this.#cache = cache;
    this.#feed = feed;
    this.#log = log;
    feed.listen(this);
    this.#batcher = new Batcher({
      maxItems: MAX_BATCH,
      concurrency: CONCURRENCY,
      gatherMs: BATCH_GATHER_MS,
      write: async (signs) => {
        const dropped = new Set<string>();
        const generation = this.#generation;
        this.#droppedDuring.add(dropped);
        try {
          const seen = new Map((await touchAgents(db, signs)).map((row) => [row.id, row]));
          const stale = generation !== this.#generation;
          const flipped = new Set<string>();
          for (const row of seen.values()) {
            if (!stale && !dropped.has(row.id)) this.#known.set(row.id, { status: row.status, team_id: row.team_id, pending: row.pending });
            // An agent that came back online changes the team's cached lists and counts.
            if (row.status !== row.previous) flipped.add(teamTag(row.team_id));
          }
          if (flipped.size > 0) await this.#cache.invalidate([...flipped]);
          return signs.map((sign) => seen.get(sign.id));
        } finally {
          this.#droppedDuring.delete(dropped);
        }
      },
    });
  }

  apply(change: Change): void {
    if (change.kind !== 'agent_work') return;
    this.#known.delete(change.subject);
    for (const dropped of this.#droppedDuring) dropped.add(change.subject);
  }

  dropAll(): void {
    this.#generation += 1;
    this.#known.clear();
  }

  /**
   * Marks the agent seen; answers its status and pending tasks (see above for when without waiting for the write).
   * `exact`: wait for the write and answer what it read (a claim: the tasks a rollout has just released to this
   * agent must be claimable at once, not a feed read later).
   */
  async seen(agentId: string, { exact = false } = {}): Promise<Answer> {
    const sign = { id: agentId, at: new Date() };
    const known = exact || !this.#feed.trusted ? undefined : this.#known.get(agentId);
    if (known && this.#batcher.backlog + this.#gathering.size < MAX_BEHIND) {
      this.#gathering.set(agentId, sign);
      this.#gatherTimer ??= setTimeout(() => this.#flushGathered(), GATHER_MS);
      return known;
    }
    const seen = await this.#batcher.add(sign);
    if (!seen) throw notFound('Agent', agentId);
    return seen;
  }

  /** Writes everything acknowledged and not yet written (a graceful stop, before the pool closes); gives up at `deadline`. */
  async drain(deadline: number): Promise<void> {
    this.#flushGathered();
    while (Date.now() < deadline) {
      if (this.#retry.size > 0) this.#flushRetries();
      await this.#batcher.idle();
      if (this.#retry.size === 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_MS, Math.max(0, deadline - Date.now()))));
    }
    if (this.#retry.size > 0) this.#log.error({ signs: this.#retry.size }, 'signs of life: stopped before these could be written');
  }

  #flushGathered(): void {
    clearTimeout(this.#gatherTimer);
    this.#gatherTimer = undefined;
    const signs = this.#gathering;
    this.#gathering = new Map();
    for (const sign of signs.values()) this.#writeBehind(sign);
  }

  #writeBehind(sign: SignOfLife): void {
    this.#batcher.add(sign).then(
      (seen) => {
        if (!seen) this.#known.delete(sign.id); // deleted meanwhile: its next sign is refused
      },
      (err: unknown) => {
        this.#known.delete(sign.id);
        const newer = this.#retry.get(sign.id);
        if (!newer || newer.at < sign.at) this.#retry.set(sign.id, sign);
        if (!this.#retryTimer) {
          this.#log.warn({ err: (err as Error).message, waiting: this.#retry.size }, 'signs of life: a batch failed; its acknowledged signs are written again');
          this.#retryTimer = setTimeout(() => this.#flushRetries(), RETRY_MS);
        }
      },
    );
  }

  #flushRetries(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const signs = [...this.#retry.values()];
    this.#retry.clear();
    for (const sign of signs) this.#writeBehind(sign);
  }
}
