// The same migrations and queries on both backends: a real PostgreSQL and the embedded PGlite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import { openDatabase, type DatabaseHandle } from '../../server/db/database.ts';
import { migrateToLatest } from '../../server/db/migrator.ts';
import { isUniqueViolation } from '../../server/db/errors.ts';
import { createLogger } from '../../server/logger.ts';
import * as repo from '../../server/modules/agents/agents.repository.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';

const log = createLogger('silent');

for (const backend of ['postgresql', 'pglite'] as const) {
  describe(`agents repository on ${backend}`, () => {
    let testDb: TestDatabase | undefined;
    let handle: DatabaseHandle;
    const team = uuidv7();
    const otherTeam = uuidv7();
    const teamIds = [team];

    beforeAll(async () => {
      let url: string | undefined;
      if (backend === 'postgresql') {
        testDb = await createTestDatabase();
        url = testDb.url;
      }
      handle = await openDatabase({ url, pgliteDir: 'memory://', poolMax: 2, timeoutMs: 3000, log });
      await migrateToLatest(handle.db, log);
      await migrateToLatest(handle.db, log); // a second run is a no-op
      await handle.db.insertInto('teams').values([{ id: team, name: 'Repo' }, { id: otherTeam, name: 'Other' }]).execute();
    });
    afterAll(async () => {
      await handle?.close();
      await testDb?.drop();
    });

    it('runs on the backend it was asked for', (ctx) => {
      if (backend === 'postgresql' && !testDb?.url) ctx.skip('no PostgreSQL answers here');
      expect(handle.backend).toBe(backend);
    });

    it('inserts, finds, updates, counts and deletes with the same types', async () => {
      const id = uuidv7();
      const inserted = await repo.insertAgent(handle.db, {
        id,
        team_id: team,
        hostname: `Repo-${backend}.example.com`,
        ip_address: '2001:0db8::0001',
        platform: 'linux',
        os_version: null,
        agent_version: '1.0.0',
        status: 'online',
        tags: ['a', 'b'],
        last_seen: null,
      });
      expect(inserted.ip_address).toBe('2001:db8::1');
      expect(inserted.tags).toEqual(['a', 'b']);
      expect(inserted.created_at).toBeInstanceOf(Date);
      expect(await repo.findAgent(handle.db, id, teamIds)).toEqual(inserted);
      expect(await repo.findAgent(handle.db, id, [otherTeam])).toBeUndefined();
      expect(await repo.countAgents(handle.db, { teamIds, search: 'repo-' })).toBe(1);
      expect(await repo.countAgents(handle.db, { teamIds: [otherTeam], search: 'repo-' })).toBe(0);
      expect(typeof (await repo.countAgents(handle.db, { teamIds }))).toBe('number');

      expect(await repo.updateAgent(handle.db, id, [otherTeam], { status: 'online' })).toBeUndefined();
      const updated = await repo.updateAgent(handle.db, id, teamIds, { status: 'maintenance', tags: [] });
      expect(updated).toMatchObject({ status: 'maintenance', tags: [] });

      await expect(
        repo.insertAgent(handle.db, { ...inserted, id: uuidv7(), hostname: inserted.hostname.toUpperCase() }),
      ).rejects.toSatisfy((err) => isUniqueViolation(err, 'agents_team_hostname_key'));

      // The same hostname is free in another team.
      await repo.insertAgent(handle.db, { ...inserted, id: uuidv7(), team_id: otherTeam });
      expect(await repo.deleteAgent(handle.db, id, [otherTeam])).toBeUndefined();
      expect(await repo.deleteAgent(handle.db, id, teamIds)).toEqual({ team_id: team });
      expect(await repo.deleteAgent(handle.db, id, teamIds)).toBeUndefined();
      expect(await repo.findAgent(handle.db, id, teamIds)).toBeUndefined();
    });

    it('pages by keyset identically to offset, over ties and NULLs', async () => {
      const base = new Date('2026-10-01T00:00:00.000Z');
      for (let i = 0; i < 12; i += 1) {
        await repo.insertAgent(handle.db, {
          id: uuidv7(),
          team_id: team,
          hostname: `keyset-${i}.example.com`,
          ip_address: `10.9.0.${i + 1}`,
          platform: i % 2 ? 'linux' : 'bsd',
          os_version: null,
          agent_version: null,
          status: 'offline',
          tags: [],
          last_seen: i % 3 === 0 ? null : new Date(base.getTime() + (i % 4) * 1000),
        });
      }
      const filter = { teamIds, search: 'keyset-' };
      for (const keys of [
        [{ field: 'last_seen', direction: 'desc' }],
        [{ field: 'platform', direction: 'asc' }, { field: 'last_seen', direction: 'desc' }],
        [{ field: 'created_at', direction: 'asc' }],
      ] as const) {
        const sortKeys = keys.map((k) => ({ ...k }));
        const all = await repo.listAgents(handle.db, filter, sortKeys, { mode: 'offset', limit: 100, offset: 0 });
        const walked: string[] = [];
        let after: { values: Array<string | number | null>; id: string } | null = null;
        for (;;) {
          const rows = await repo.listAgents(handle.db, filter, sortKeys, { mode: 'cursor', limit: 5, after });
          const page = rows.slice(0, 5);
          walked.push(...page.map((r) => r.id));
          const last = page.at(-1);
          if (rows.length <= 5 || !last) break;
          after = { values: sortKeys.map((k) => repo.cursorValue(last, k.field)), id: last.id };
        }
        expect(walked).toEqual(all.map((r) => r.id));
      }
    });
  });
}
