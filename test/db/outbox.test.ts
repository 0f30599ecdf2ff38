// The outbox and its dispatcher on a real PostgreSQL (and the embedded PGlite): an event commits or rolls
// back with its change; dispatchers racing over one outbox hand out each stream position once, in the
// order events happened, and publish in that order; deliveries are queued only for the active webhooks
// of the event's team that subscribe to its type and existed when it happened; old events are pruned with their deliveries.
import { sql } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../server/db/database.ts';
import { migrateToLatest } from '../../server/db/migrator.ts';
import { OutboxDispatcher } from '../../server/events/dispatcher.ts';
import { localEventBus, type PublishedEvent } from '../../server/events/event-bus.ts';
import { recordEvent, recordEvents } from '../../server/events/outbox.ts';
import { createLogger } from '../../server/logger.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';

const log = createLogger('silent');

/** An alert as events carry it; the outbox does not look inside. */
const alertData = (title: string) =>
  ({
    id: uuidv7(),
    title,
    severity: 'warning',
    status: 'open',
  }) as never;

for (const backend of ['postgresql', 'pglite'] as const) {
  describe(`outbox on ${backend}`, () => {
    let testDb: TestDatabase | undefined;
    let handle: DatabaseHandle;
    const team = uuidv7();
    const otherTeam = uuidv7();

    beforeAll(async () => {
      if (backend === 'postgresql') testDb = await createTestDatabase();
      handle = await openDatabase({ url: testDb?.url, pgliteDir: 'memory://', poolMax: 4, timeoutMs: 5000, log });
      await migrateToLatest(handle.db, log);
      await handle.db.insertInto('teams').values([{ id: team, name: 'Outbox' }, { id: otherTeam, name: 'Other' }]).execute();
    });
    afterAll(async () => {
      await handle?.close();
      await testDb?.drop();
    });

    const dispatcher = (published: PublishedEvent[] = []) => {
      const bus = localEventBus(log);
      bus.subscribe((e) => published.push(e));
      return new OutboxDispatcher(handle.db, bus, log, { pollMs: 50 });
    };
    const drain = async (d: OutboxDispatcher) => {
      while ((await d.dispatchOnce()) > 0);
    };

    it('commits an event with its change and rolls it back with it', async () => {
      const kept = alertData('kept');
      await handle.db.transaction().execute((trx) => recordEvent(trx, 'alert.triggered', team, kept));
      const lost = alertData('lost');
      await expect(
        handle.db.transaction().execute(async (trx) => {
          await recordEvent(trx, 'alert.triggered', team, lost);
          throw new Error('the change failed');
        }),
      ).rejects.toThrow('the change failed');
      const ids = (await handle.db.selectFrom('events').select(sql<string>`data->>'id'`.as('id')).execute()).map((r) => r.id);
      expect(ids).toContain((kept as { id: string }).id);
      expect(ids).not.toContain((lost as { id: string }).id);
      await drain(dispatcher());
    });

    it('hands out each stream position once, in the order events happened, across racing dispatchers', async (ctx) => {
      if (backend === 'postgresql' && !testDb?.url) return ctx.skip('no PostgreSQL answers here');
      const recorded: string[] = [];
      for (let i = 0; i < 30; i++) {
        const batch = Array.from({ length: 40 }, (_, j) => ({ type: 'alert.triggered' as const, teamId: i % 2 ? team : otherTeam, data: alertData(`race ${i}.${j}`) }));
        await recordEvents(handle.db, batch);
        recorded.push(...batch.map((e) => (e.data as { id: string }).id));
      }
      const published: PublishedEvent[] = [];
      const racers = Array.from({ length: 4 }, () => dispatcher(published));
      await Promise.all(racers.map(drain));

      const rows = await handle.db
        .selectFrom('events')
        .select(['seq', sql<string>`data->>'id'`.as('resource'), 'dispatched_at'])
        .where(sql<string>`data->>'id'`, 'in', recorded)
        .orderBy('occurred_at')
        .orderBy('id')
        .execute();
      expect(rows).toHaveLength(1200);
      expect(rows.every((r) => r.dispatched_at !== null && r.seq !== null)).toBe(true);
      const seqs = rows.map((r) => Number(r.seq));
      expect(new Set(seqs).size).toBe(1200);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b)); // positions follow the order of occurrence
      const ours = published.filter((p) => recorded.includes((p.event.data as { id: string }).id));
      expect(ours).toHaveLength(1200); // published once each
      expect(ours.map((p) => Number(p.seq))).toEqual(seqs); // and in position order
    });

    it('queues deliveries only for active webhooks of the team subscribed to the type', async () => {
      const webhook = (teamId: string, events: string[], active = true) => ({
        id: uuidv7(),
        team_id: teamId,
        url: 'https://hooks.example.com/opsdeck',
        events,
        secret_ciphertext: 'not used here',
        secret_hint: '…abcd',
        active,
      });
      const subscribed = webhook(team, ['alert.triggered', 'task.failed']);
      const otherType = webhook(team, ['task.failed']);
      const inactive = webhook(team, ['alert.triggered'], false);
      const otherTeams = webhook(otherTeam, ['alert.triggered']);
      await handle.db.insertInto('webhooks').values([subscribed, otherType, inactive, otherTeams]).execute();

      const data = alertData('to deliver');
      await recordEvent(handle.db, 'alert.triggered', team, data);
      // Registered after the event happened (times have millisecond precision), before it was dispatched:
      // it only gets later events.
      await new Promise((resolve) => setTimeout(resolve, 5));
      await handle.db.insertInto('webhooks').values(webhook(team, ['alert.triggered'])).execute();
      await drain(dispatcher());
      const deliveries = await handle.db
        .selectFrom('webhook_deliveries as d')
        .innerJoin('events as e', 'e.id', 'd.event_id')
        .select(['d.webhook_id', 'd.event', 'd.status', 'd.next_attempt_at'])
        .where(sql<string>`e.data->>'id'`, '=', (data as { id: string }).id)
        .execute();
      expect(deliveries).toEqual([{ webhook_id: subscribed.id, event: 'alert.triggered', status: 'pending', next_attempt_at: expect.any(Date) }]);
    });

    it('prunes dispatched events past the retention period with their deliveries, and keeps undispatched ones', async () => {
      const old = alertData('old');
      const waiting = alertData('old but never dispatched');
      await recordEvent(handle.db, 'alert.triggered', team, old);
      await drain(dispatcher());
      await recordEvent(handle.db, 'alert.triggered', team, waiting);
      await handle.db.updateTable('events').set({ occurred_at: new Date(Date.now() - 31 * 86_400_000) }).where(sql<string>`data->>'id'`, 'in', [(old as { id: string }).id, (waiting as { id: string }).id]).execute();
      const deliveriesOf = (eventData: unknown) =>
        handle.db
          .selectFrom('webhook_deliveries as d')
          .innerJoin('events as e', 'e.id', 'd.event_id')
          .select('d.id')
          .where(sql<string>`e.data->>'id'`, '=', (eventData as { id: string }).id)
          .execute();
      const oldDeliveries = await deliveriesOf(old);
      expect(oldDeliveries.length).toBeGreaterThan(0);
      const allBefore = await handle.db.selectFrom('webhook_deliveries').select('id').execute();

      expect(await dispatcher().prune(30)).toBe(1);
      const left = (await handle.db.selectFrom('events').select(sql<string>`data->>'id'`.as('id')).execute()).map((r) => r.id);
      expect(left).not.toContain((old as { id: string }).id);
      expect(left).toContain((waiting as { id: string }).id);
      // The old event's deliveries went with it, and only they did.
      const allAfter = await handle.db.selectFrom('webhook_deliveries').select('id').execute();
      expect(await deliveriesOf(old)).toEqual([]);
      expect(allAfter.length).toBe(allBefore.length - oldDeliveries.length);
    });
  });
}
