// The replay of the live stream: the outbox's streamed events after a stream position, for some teams
// and channels, within a time window.
import { sql, type Kysely } from 'kysely';
import type { Database, EventRow } from '../../db/schema.ts';
import type { EventChannel } from '../../events/catalogue.ts';
import { DISPATCH_LOCK } from '../../events/dispatcher.ts';

export interface ReplayFilter {
  /** Only events after this stream position. */
  after: bigint;
  teamIds: readonly string[];
  channels: readonly EventChannel[];
  /** Only events that happened at or after this time. */
  since: Date;
  /** At most this many: the latest ones, so the replay runs on into live events without a gap. */
  limit: number;
}

export type ReplayRow = Pick<EventRow, 'id' | 'type' | 'channel' | 'team_id' | 'data' | 'occurred_at'> & { seq: string };

/**
 * The events of the filter in stream order. It reads under the dispatcher's lock, taken shared: the
 * dispatcher publishes a batch before its transaction commits, so a batch published before the stream
 * subscribed might otherwise be neither in this read nor on the bus. With the lock, the read waits for
 * such a batch to commit.
 */
export async function replayEvents(db: Kysely<Database>, filter: ReplayFilter): Promise<ReplayRow[]> {
  if (filter.teamIds.length === 0 || filter.channels.length === 0) return [];
  const rows = await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock_shared(${DISPATCH_LOCK})`.execute(trx);
    return trx
      .selectFrom('events')
      .select(['id', 'type', 'channel', 'team_id', 'data', 'occurred_at', 'seq'])
      .where('seq', '>', filter.after.toString())
      .where('team_id', 'in', [...filter.teamIds])
      .where('channel', 'in', [...filter.channels])
      .where('occurred_at', '>=', filter.since)
      .orderBy('seq', 'desc')
      .limit(filter.limit)
      .execute();
  });
  return (rows as ReplayRow[]).reverse();
}
