// The change feed's table as its followers read it, on a real PostgreSQL: changes come in id order (numeric,
// across a power of ten), a read past the cursor walks the primary key instead of sorting the table, and
// pruning deletes by id what every follower has long read, keeping the newest.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeFeedFollower, changeFeed, changesSince, type Change } from '../../server/db/change-feed.ts';
import { openDatabase, type DatabaseHandle } from '../../server/db/database.ts';
import { migrateToLatest } from '../../server/db/migrator.ts';
import { createLogger } from '../../server/logger.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';

const log = createLogger('silent');

describe('change feed on postgresql', () => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    handle = await openDatabase({ url: testDb.url, pgliteDir: 'memory://', poolMax: 2, timeoutMs: 5000, log });
    await migrateToLatest(handle.db, log);
  });
  afterAll(async () => {
    await handle?.close();
    await testDb?.drop();
  });

  /** Writes `count` changes of kind user with subjects s<id>, from id `first` on. */
  async function write(first: number, count: number): Promise<void> {
    await sql`select setval('change_feed_id_seq', ${first - 1})`.execute(handle.db);
    await sql`insert into change_feed (kind, subject) select 'user', 's' || g from generate_series(1, ${count}) g`.execute(handle.db);
  }

  it('answers changes in numeric id order, also where the ids gain a digit', async () => {
    await write(9_997, 6); // 9997 … 10002
    const feed = changeFeed(handle.db);
    const first = await feed.since(9_996, [], 3);
    expect(first.map((c) => c.id)).toEqual([9_997, 9_998, 9_999]);
    const next = await feed.since(9_999, [], 10);
    expect(next.map((c) => c.id)).toEqual([10_000, 10_001, 10_002]);
    expect(await feed.latest()).toBe(10_002);
  });

  it('reads past the cursor on the primary key, not by sorting the table', async () => {
    await write(20_000, 20_000);
    await sql`analyze change_feed`.execute(handle.db);
    // The follower's statement, with a cursor near the end and a few missing ids (as it asks every poll).
    const compiled = changesSince(handle.db, 39_990, [30_000, 30_001], 5000).compile();
    const plan = await handle.db.executeQuery<{ 'QUERY PLAN': string }>({ ...compiled, sql: `explain ${compiled.sql}` });
    const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Index Scan (using|on) change_feed_pkey/);
    // Sorting the few rows found is fine; sorting them as text (or every row past the cursor) is not.
    expect(text).not.toMatch(/Seq Scan|Sort Key: \(\(id\)::text\)/);
    const feed = changeFeed(handle.db);
    expect((await feed.since(39_990, [30_000, 30_001], 5000)).map((c) => c.id)).toEqual([30_000, 30_001, ...Array.from({ length: 9 }, (_, i) => 39_991 + i)]);
  });

  it('prunes by id through the given change and keeps the rest', async () => {
    const feed = changeFeed(handle.db);
    await feed.prune(39_000);
    const { rows } = await sql<{ min: string; n: string }>`select min(id)::text as min, count(*)::text as n from change_feed`.execute(handle.db);
    expect(rows[0]).toEqual({ min: '39001', n: '999' });
  });

  describe('a follower', () => {
    /** A cache as the follower sees it: what it was told. */
    const listener = () => {
      const heard = { applied: [] as string[], drops: 0 };
      return { heard, apply: (c: Change) => void heard.applied.push(c.subject), dropAll: () => void (heard.drops += 1) };
    };
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const change = (subject: string) => sql`insert into change_feed (kind, subject) values ('user', ${subject})`.execute(handle.db);

    it('after a short gap in its reads, applies what changed meanwhile and keeps the caches (no drop)', async () => {
      const follower = new ChangeFeedFollower(changeFeed(handle.db), log, { pollMs: 3_600_000, trustMs: 200, keepMs: 60_000 });
      const cache = listener();
      follower.listen(cache);
      await follower.start();
      expect(follower.trusted).toBe(true);
      await pause(300);
      expect(follower.trusted).toBe(false);
      await change('short-gap');
      await follower.poll();
      expect(follower.trusted).toBe(true);
      expect(cache.heard).toEqual({ applied: ['short-gap'], drops: 0 });
      await follower.stop();
    });

    it('after a gap long enough for changes to have been pruned, drops every cache and starts from the newest change', async () => {
      const follower = new ChangeFeedFollower(changeFeed(handle.db), log, { pollMs: 3_600_000, trustMs: 100, keepMs: 400 });
      const cache = listener();
      follower.listen(cache);
      await follower.start();
      await pause(300);
      await change('long-gap');
      await follower.poll();
      expect(cache.heard.drops).toBe(1);
      expect(follower.trusted).toBe(true);
      await change('after');
      await follower.poll();
      expect(cache.heard.applied.at(-1)).toBe('after');
      await follower.stop();
    });
  });
});
