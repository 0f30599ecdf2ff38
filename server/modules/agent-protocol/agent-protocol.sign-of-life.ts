// An agent's sign of life (a heartbeat, a claim, a metrics report): its `last_seen`, and `online` again if it
// was offline. At fleet scale these are most of the API's writes (100,000 hosts at a 30-second interval are
// 3,300 a second), so they are written in batches, one `UPDATE … FROM` per batch (db/batcher.ts), and each
// request is answered once its batch is committed: `last_seen` as read is never behind an acknowledged
// heartbeat (within this process; other processes' cached agents follow the change feed, within 1 s), and
// nothing answered is lost by a stop or a crash.
import type { Kysely } from 'kysely';
import { Batcher } from '../../db/batcher.ts';
import type { Database } from '../../db/schema.ts';
import type { TaggedCache } from '../../edge/tagged-cache.ts';
import { notFound } from '../../http/errors.ts';
import { teamTag } from '../agents/agents.service.ts';
import { touchAgents, type SeenAgent } from './agent-protocol.repository.ts';

/** Rows per statement: a batch this size takes PostgreSQL a few milliseconds. */
const MAX_BATCH = 500;
/**
 * One batch under way at a time: the next gathers meanwhile. With two, the statements were twice as many and half
 * as large for the same latency (a statement's round trip, not its rows, is what costs here).
 */
const CONCURRENCY = 1;

export class SignsOfLife {
  readonly #batcher: Batcher<string, SeenAgent | undefined>;
  readonly #cache: TaggedCache;

  constructor(db: Kysely<Database>, cache: TaggedCache) {
    this.#cache = cache;
    this.#batcher = new Batcher({
      maxItems: MAX_BATCH,
      concurrency: CONCURRENCY,
      write: async (ids) => {
        const seen = new Map((await touchAgents(db, ids)).map((row) => [row.id, row]));
        return ids.map((id) => seen.get(id));
      },
    });
  }

  /** Marks the agent seen; answers its status and pending tasks as of that write. */
  async seen(agentId: string): Promise<SeenAgent> {
    const seen = await this.#batcher.add(agentId);
    if (!seen) throw notFound('Agent', agentId);
    // An agent that came back online changes the team's cached lists and counts.
    if (seen.status !== seen.previous) await this.#cache.invalidate([teamTag(seen.team_id)]);
    return seen;
  }
}
