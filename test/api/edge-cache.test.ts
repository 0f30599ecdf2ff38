// Costly reads are cached in Redis with tags and invalidated by every write that changes them: a
// read after a write never sees the old value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysMatching, startTestServer, type TestServer } from '../support/server.ts';
import { newAgent } from '../support/http.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

async function truth() {
  const rows = await server.database.db.selectFrom('agents').select(['status', 'platform']).where('team_id', '=', server.teamId).execute();
  return {
    total: rows.length,
    online: rows.filter((r) => r.status === 'online').length,
    bsd: rows.filter((r) => r.platform === 'bsd').length,
  };
}

describe('cached agent summary and counts', () => {
  it('is served from the cache, and a write is never followed by a stale read', async () => {
    const summary = async () => (await server.call('GET', '/api/v1/agents/summary')).body.data;
    const total = async () => (await server.call('GET', '/api/v2/agents?limit=1')).body.pagination.total;
    expect(await summary()).toMatchObject({ total: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      // Read first so the cache holds the value the write must invalidate.
      await summary();
      await total();
      const step = i % 4;
      if (step === 0 || ids.length === 0) {
        ids.push((await server.call('POST', '/api/v1/agents', { json: newAgent({ platform: 'bsd' }) })).body.data.id);
      } else if (step === 1) {
        await server.call('PATCH', `/api/v1/agents/${ids.at(-1)}`, { json: { status: 'online' } });
      } else if (step === 2) {
        await server.call('PUT', `/api/v1/agents/${ids.at(-1)}`, { json: { ...newAgent({ platform: 'linux' }), os_version: null, agent_version: null, status: 'offline', tags: [] } });
      } else {
        await server.call('DELETE', `/api/v1/agents/${ids.pop()}`);
      }
      const expected = await truth();
      const now = await summary();
      expect(now.total, `step ${i}`).toBe(expected.total);
      expect(now.by_status.online, `step ${i}`).toBe(expected.online);
      expect(now.by_platform.bsd, `step ${i}`).toBe(expected.bsd);
      expect(await total(), `step ${i}`).toBe(expected.total);
    }
  });

  it('keeps entries in Redis under tags', async (ctx) => {
    if (!server.redis) return ctx.skip('no Redis here: the cache lives in the process');
    await server.call('GET', '/api/v1/agents/summary');
    expect((await keysMatching(server.redis, `${server.redisKeyPrefix}cache:agents:summary:*`)).length).toBeGreaterThan(0);
    // The tags' versions share one hash slot ({tags}), so a Redis Cluster reads them with one MGET.
    expect((await keysMatching(server.redis, `${server.redisKeyPrefix}{tags}:agents:*`)).length).toBeGreaterThan(0);
  });

  it("a summary counts only the caller's teams", async () => {
    const other = (await server.call('POST', '/api/v1/teams', { json: { name: `Cache other ${Date.now()}` } })).body.data;
    await server.call('POST', '/api/v1/agents', { json: newAgent({ team_id: other.id }) });
    const all = (await server.call('GET', '/api/v1/agents/summary')).body.data.total;
    const mine = (await server.call('GET', `/api/v1/agents/summary?team_id=${server.teamId}`)).body.data.total;
    const theirs = (await server.call('GET', `/api/v1/agents/summary?team_id=${other.id}`)).body.data.total;
    expect(theirs).toBe(1);
    expect(all).toBe(mine + theirs);
  });
});
