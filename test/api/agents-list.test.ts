import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http } from '../support/http.ts';
import { beforeSunset } from '../support/sunset.ts';

let server: TestServer;
const call = (path: string) => server.call('GET', path);
const PLATFORMS = ['linux', 'windows', 'macos', 'bsd'] as const;
const STATUSES = ['online', 'offline', 'maintenance'] as const;
const TOTAL = 23;

beforeAll(async () => {
  // No sweeps: agents created `online` without heartbeats must stay online for the counts, however slow the run.
  server = await startTestServer({ SWEEP_INTERVAL_MS: '3600000' });
  for (let i = 0; i < TOTAL; i += 1) {
    const res = await server.call('POST', '/api/v1/agents', {
      json: {
        hostname: `${i % 2 === 0 ? 'web' : 'db'}-${String(i).padStart(2, '0')}.fleet.example.com`,
        ip_address: `10.1.0.${i + 1}`,
        platform: PLATFORMS[i % 4],
        status: STATUSES[i % 3],
      },
    });
    expect(res.status).toBe(201);
  }
  // Some agents share a created_at so that ties are broken by id.
  await server.database.db.updateTable('agents').set({ created_at: new Date('2026-11-01T00:00:00.000Z') }).where('hostname', 'like', 'db-0%').execute();
});
afterAll(async () => {
  await server?.close();
});

async function walkCursor(query: string): Promise<string[]> {
  const ids: string[] = [];
  let path: string | null = `/api/v2/agents?${query}&cursor=`;
  let pages = 0;
  while (path) {
    const res = await call(path);
    expect(res.status).toBe(200);
    expect(res.body.pagination.mode).toBe('cursor');
    expect(res.body.pagination).not.toHaveProperty('total');
    ids.push(...res.body.data.map((a: { id: string }) => a.id));
    path = res.body.pagination.links.next;
    expect(res.body.pagination.has_next).toBe(path !== null);
    pages += 1;
    expect(pages).toBeLessThan(50);
  }
  return ids;
}

describe('listAgentsV2 (listAgents shares its paging, sorting and filters)', () => {
  it('pages by offset with counts, links and a Link header', async () => {
    const res = await call('/api/v2/agents?limit=5&offset=5');
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(5);
    expect(res.body.pagination).toEqual({
      mode: 'offset',
      page: 2,
      per_page: 5,
      total: TOTAL,
      total_pages: 5,
      has_next: true,
      has_prev: true,
      links: {
        self: '/api/v2/agents?limit=5&offset=5',
        first: '/api/v2/agents?limit=5&offset=0',
        prev: '/api/v2/agents?limit=5&offset=0',
        next: '/api/v2/agents?limit=5&offset=10',
        last: '/api/v2/agents?limit=5&offset=20',
      },
    });
    expect(res.headers.get('link')).toBe(
      '</api/v2/agents?limit=5&offset=0>; rel="first", </api/v2/agents?limit=5&offset=0>; rel="prev", ' +
        '</api/v2/agents?limit=5&offset=10>; rel="next", </api/v2/agents?limit=5&offset=20>; rel="last"',
    );
    const last = await call('/api/v2/agents?limit=5&offset=20');
    expect(last.body.data).toHaveLength(3);
    expect(last.body.pagination.has_next).toBe(false);
    expect(last.body.pagination.links.next).toBeNull();
  });

  it('defaults to 50 a page, newest first', async () => {
    const res = await call('/api/v2/agents');
    expect(res.body.pagination.per_page).toBe(50);
    const created = res.body.data.map((a: { created_at: string }) => a.created_at);
    expect([...created].sort().reverse()).toEqual(created);
  });

  it('refuses limits and offsets out of bounds', async () => {
    for (const q of ['limit=0', 'limit=101', 'offset=-1', 'limit=abc']) {
      const res = await call(`/api/v2/agents?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('VAL_INVALID_PARAMETER');
    }
  });

  it('walks every agent by cursor exactly once, in the same order as offset pages', async () => {
    for (const sort of ['created_at:desc', 'hostname:asc', 'status:asc,created_at:desc', 'last_seen:desc,platform:asc']) {
      const byCursor = await walkCursor(`limit=4&sort=${sort}`);
      const byOffset = (await call(`/api/v2/agents?limit=100&sort=${sort}`)).body.data.map((a: { id: string }) => a.id);
      expect(byCursor, sort).toEqual(byOffset);
      expect(new Set(byCursor).size).toBe(TOTAL);
    }
  });

  it('cursor pages respect filters', async () => {
    const ids = await walkCursor('limit=2&status=online');
    expect(ids).toHaveLength(Math.ceil(TOTAL / 3));
  });

  it('refuses a cursor made for another sort, a forged cursor, and offset with cursor', async () => {
    const first = await call('/api/v2/agents?limit=2&sort=hostname:asc&cursor=');
    const cursor = first.body.pagination.next_cursor;
    const otherSort = await call(`/api/v2/agents?limit=2&sort=hostname:desc&cursor=${cursor}`);
    expect(otherSort.status).toBe(400);
    expect(otherSort.body.error.details[0].field).toBe('cursor');
    const forged = await call('/api/v2/agents?limit=2&cursor=bm90LWEtY3Vyc29y');
    expect(forged.status).toBe(400);
    const both = await call(`/api/v2/agents?limit=2&offset=2&sort=hostname:asc&cursor=${cursor}`);
    expect(both.status).toBe(400);
  });

  it('sorts by several fields and refuses unknown or repeated ones', async () => {
    const res = await call('/api/v2/agents?limit=100&sort=platform:asc,hostname:desc');
    const rows = res.body.data as Array<{ platform: string; hostname: string }>;
    const expected = [...rows].sort((a, b) => a.platform.localeCompare(b.platform) || b.hostname.localeCompare(a.hostname));
    expect(rows).toEqual(expected);
    expect((await call('/api/v2/agents?sort=colour:asc')).status).toBe(400);
    expect((await call('/api/v2/agents?sort=hostname:up')).status).toBe(400);
    const repeated = await call('/api/v2/agents?sort=hostname:asc,hostname:desc');
    expect(repeated.status).toBe(400);
    expect(repeated.body.error.code).toBe('VAL_INVALID_PARAMETER');
  });

  it('filters by status, platform, search and creation time', async () => {
    const online = await call('/api/v2/agents?status=online&limit=100');
    expect(online.body.data.every((a: { status: string }) => a.status === 'online')).toBe(true);
    expect(online.body.pagination.total).toBe(Math.ceil(TOTAL / 3));
    const bsd = await call('/api/v2/agents?platform=bsd&limit=100');
    expect(bsd.body.pagination.total).toBe(Math.floor(TOTAL / 4));
    const search = await call('/api/v2/agents?search=WEB-0&limit=100');
    expect(search.body.data.map((a: { hostname: string }) => a.hostname).sort()).toEqual(
      ['web-00', 'web-02', 'web-04', 'web-06', 'web-08'].map((h) => `${h}.fleet.example.com`),
    );
    const byIp = await call('/api/v2/agents?search=10.1.0.2&limit=100');
    expect(byIp.body.data.map((a: { ip_address: string }) => a.ip_address).sort()).toEqual(['10.1.0.2', '10.1.0.20', '10.1.0.21', '10.1.0.22', '10.1.0.23']);
    const wildcard = await call('/api/v2/agents?search=%25&limit=100');
    expect(wildcard.body.data).toHaveLength(0);
    const old = await call('/api/v2/agents?created_before=2026-11-02T00:00:00Z&limit=100');
    expect(old.body.data.every((a: { hostname: string }) => a.hostname.startsWith('db-0'))).toBe(true);
    expect(old.body.pagination.total).toBe(5);
    const recent = await call('/api/v2/agents?created_after=2026-11-02T00:00:00Z&limit=100');
    expect(recent.body.pagination.total).toBe(TOTAL - 5);
    expect((await call('/api/v2/agents?status=exploded')).status).toBe(400);
    expect((await call('/api/v2/agents?created_after=yesterday')).status).toBe(400);
  });

});

// What only the deprecated v1 list does, tested until its sunset on a clock before it (test/support/sunset.ts).
describe('listAgents (deprecated)', () => {
  it('trims items to the fields asked for, always keeping id', async () => {
    const [res, unknown] = await beforeSunset('listAgents', async () => [
      await call('/api/v1/agents?fields=hostname,status&limit=3'),
      await call('/api/v1/agents?fields=hostname,password'),
    ]);
    expect(res.status).toBe(200);
    for (const agent of res.body.data) expect(Object.keys(agent).sort()).toEqual(['hostname', 'id', 'status']);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('VAL_INVALID_PARAMETER');
  });

  it('pages, sorts and filters as listAgentsV2 does, with the same agents in the same order', async () => {
    const query = 'limit=7&offset=7&sort=platform:asc,hostname:desc&status=online';
    const [v1, v2] = await beforeSunset('listAgents', async () => [await call(`/api/v1/agents?${query}`), await call(`/api/v2/agents?${query}`)]);
    expect(v1.status).toBe(200);
    expect(v1.body.data.map((a: { id: string }) => a.id)).toEqual(v2.body.data.map((a: { id: string }) => a.id));
    expect({ ...v1.body.pagination, links: undefined }).toEqual({ ...v2.body.pagination, links: undefined });
    expect(v1.body.pagination.links.next).toBe(v2.body.pagination.links.next?.replace('/api/v2/', '/api/v1/') ?? null);
  });
});
