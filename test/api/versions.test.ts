// API versions over HTTP on the real backends: `listAgentsV2` (groups, health scores and a summary of the
// whole filtered set, within the caller's teams) and the deprecated `listAgents`, whose every answer
// carries the Deprecation, Sunset and successor Link the contract declares, and which answers 410 once its
// sunset has passed. Expected header values are read from the bundled contract, never written here.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { operationsById, resolveRef } from '../../server/contract.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent, type RawResponse } from '../support/http.ts';
import { bearer, createOutsider, login, TEST_ADMIN, type TestUser } from '../support/identity.ts';
import { beforeSunset } from '../support/sunset.ts';

interface Lifecycle {
  deprecated?: boolean;
  'x-deprecated-at': string;
  'x-sunset': string;
  'x-successor': string;
}

const v1 = operationsById.get('listAgents')!;
const lifecycle = v1.operation as unknown as Lifecycle;
const successor = operationsById.get(lifecycle['x-successor'])!;
const sunset = new Date(lifecycle['x-sunset']);
/** The three headers, as the contract's x- fields say they must be. */
const expected = {
  deprecation: `@${Date.parse(lifecycle['x-deprecated-at']) / 1000}`,
  sunset: sunset.toUTCString(),
  successorLink: `<${successor.path}>; rel="successor-version"`,
};

let server: TestServer;
let outsider: TestUser;
/** Agents of the test team by a short name, and the groups they were put in. */
const agents: Record<string, { id: string; hostname: string }> = {};
const groups: Record<string, { id: string; name: string }> = {};

const get = (path: string, headers: Record<string, string> = {}) => server.call('GET', path, { headers });
const links = (res: RawResponse) => (res.headers.get('link') ?? '').split(', ').filter(Boolean);

beforeAll(async () => {
  // No sweeps: agents created `online` without heartbeats must stay online for the counts.
  server = await startTestServer({ SWEEP_INTERVAL_MS: '3600000' });
  const fleet = {
    web1: 'online',
    web2: 'online',
    web3: 'online',
    db1: 'online',
    db2: 'offline',
    db3: 'offline',
    batch1: 'maintenance',
  } as const;
  for (const [name, status] of Object.entries(fleet)) {
    const res = await server.call('POST', '/api/v1/agents', { json: newAgent({ status, platform: name.startsWith('web') ? 'linux' : 'bsd' }) });
    expect(res.status).toBe(201);
    agents[name] = res.body.data;
  }
  for (const [name, members] of Object.entries({ 'Web servers': ['web1', 'web2', 'web3'], 'canary hosts': ['web1', 'db2'], Empty: [] })) {
    const group = (await server.call('POST', '/api/v1/agent-groups', { json: { name } })).body.data;
    groups[name] = { id: group.id, name };
    if (members.length > 0) {
      const added = await server.call('POST', `/api/v1/agent-groups/${group.id}/members`, { json: { agent_ids: members.map((m) => agents[m]!.id) } });
      expect(added.status).toBe(200);
    }
  }
  const raise = async (agent: string | null, severity: string, then?: 'acknowledge' | 'resolve') => {
    const alert = await server.call('POST', '/api/v1/alerts', { json: { ...(agent ? { agent_id: agents[agent]!.id } : {}), title: `${severity} on ${agent}`, severity } });
    expect(alert.status).toBe(201);
    if (then) expect((await server.call('POST', `/api/v1/alerts/${alert.body.data.id}/${then}`)).status).toBe(200);
  };
  // web1: one critical and one acknowledged warning count, a resolved info does not → 100 − 30 − 10 = 60.
  await raise('web1', 'critical');
  await raise('web1', 'warning', 'acknowledge');
  await raise('web1', 'info', 'resolve');
  // web2: two infos → 96. db1: four criticals → never below 0. db2 (offline) and batch1 (maintenance): alerts do not matter.
  await raise('web2', 'info');
  await raise('web2', 'info');
  for (let i = 0; i < 4; i += 1) await raise('db1', 'critical');
  await raise('db2', 'warning');
  await raise('batch1', 'critical');
  await raise(null, 'critical');

  // Another team with agents, a group and alerts of its own, none of which the test team may see or count.
  ({ outsider } = await createOutsider(server.url, server.adminToken));
  const theirs: string[] = [];
  for (let i = 0; i < 3; i += 1) {
    theirs.push((await http(server.url, 'POST', '/api/v1/agents', { headers: bearer(outsider.token), json: newAgent({ status: 'online' }) })).body.data.id);
  }
  const theirGroup = (await http(server.url, 'POST', '/api/v1/agent-groups', { headers: bearer(outsider.token), json: { name: 'Web servers' } })).body.data;
  await http(server.url, 'POST', `/api/v1/agent-groups/${theirGroup.id}/members`, { headers: bearer(outsider.token), json: { agent_ids: theirs } });
  await http(server.url, 'POST', '/api/v1/alerts', { headers: bearer(outsider.token), json: { agent_id: theirs[0], title: 'theirs', severity: 'critical' } });
});
afterAll(async () => {
  vi.useRealTimers();
  await server?.close();
});

describe('listAgentsV2', () => {
  it("carries each agent's groups (by name) and its health score by the documented rule, beside v1's fields", async () => {
    const res = await get('/api/v2/agents?limit=100&sort=hostname:asc');
    expect(res.status).toBe(200);
    const byId = new Map(res.body.data.map((a: { id: string }) => [a.id, a]));
    const ref = (name: string) => groups[name];
    const want: Record<string, { groups: unknown[]; health_score: number }> = {
      web1: { groups: [ref('canary hosts'), ref('Web servers')], health_score: 60 },
      web2: { groups: [ref('Web servers')], health_score: 96 },
      web3: { groups: [ref('Web servers')], health_score: 100 },
      db1: { groups: [], health_score: 0 },
      db2: { groups: [ref('canary hosts')], health_score: 0 },
      db3: { groups: [], health_score: 0 },
      batch1: { groups: [], health_score: 50 },
    };
    expect(res.body.data).toHaveLength(Object.keys(want).length);
    for (const [name, extras] of Object.entries(want)) expect(byId.get(agents[name]!.id), name).toMatchObject(extras);
    // Apart from the two v2 fields, an item is exactly what v1 shows (while v1 answers: before its sunset).
    const v1Page = await beforeSunset('listAgents', () => get('/api/v1/agents?limit=100&sort=hostname:asc'));
    expect(v1Page.status).toBe(200);
    expect(res.body.data.map(({ groups: _g, health_score: _h, ...agent }: Record<string, unknown>) => agent)).toEqual(v1Page.body.data);
  });

  it('sums up the whole filtered set on every page, in offset and cursor mode', async () => {
    const everything = { total: 7, by_status: { online: 4, offline: 2, maintenance: 1 }, groups: 2 };
    const seen: string[] = [];
    let path: string | null = '/api/v2/agents?limit=3';
    while (path) {
      const page = await get(path);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(3);
      expect(page.body.summary, path).toEqual(everything);
      expect(page.body.pagination.total).toBe(everything.total);
      seen.push(...page.body.data.map((a: { id: string }) => a.id));
      path = page.body.pagination.links.next;
    }
    expect(new Set(seen).size).toBe(7);

    const cursorPage = await get('/api/v2/agents?limit=2&cursor=');
    expect(cursorPage.body.pagination.mode).toBe('cursor');
    expect(cursorPage.body.summary).toEqual(everything);
    const next = await get(cursorPage.body.pagination.links.next);
    expect(next.body.summary).toEqual(everything);

    // Filters narrow the summary exactly as they narrow the list.
    const online = await get('/api/v2/agents?status=online&limit=1');
    expect(online.body.summary).toEqual({ total: 4, by_status: { online: 4, offline: 0, maintenance: 0 }, groups: 2 });
    const bsd = await get('/api/v2/agents?platform=bsd&limit=1');
    expect(bsd.body.summary).toEqual({ total: 4, by_status: { online: 1, offline: 2, maintenance: 1 }, groups: 1 });
    const canary = await get(`/api/v2/agents?group_id=${groups['canary hosts']!.id}`);
    expect(canary.body.data.map((a: { id: string }) => a.id).sort()).toEqual([agents.web1!.id, agents.db2!.id].sort());
    // web1 is also a web server: the groups of the matching agents are counted, not only the filter's.
    expect(canary.body.summary).toEqual({ total: 2, by_status: { online: 1, offline: 1, maintenance: 0 }, groups: 2 });
    const none = await get('/api/v2/agents?search=no-such-host');
    expect(none.body).toMatchObject({ data: [], summary: { total: 0, by_status: { online: 0, offline: 0, maintenance: 0 }, groups: 0 } });
  });

  it("neither shows nor counts another team's agents and groups", async () => {
    const theirs = await http(server.url, 'GET', '/api/v2/agents?limit=100', { headers: bearer(outsider.token) });
    expect(theirs.status).toBe(200);
    expect(theirs.body.data).toHaveLength(3);
    expect(theirs.body.data.every((a: { team_id: string }) => a.team_id !== server.teamId)).toBe(true);
    expect(theirs.body.summary).toEqual({ total: 3, by_status: { online: 3, offline: 0, maintenance: 0 }, groups: 1 });
    // Their group has the same name as ours; their agent's critical alert is theirs alone.
    expect(theirs.body.data.map((a: { groups: Array<{ id: string }> }) => a.groups[0]!.id)).not.toContain(groups['Web servers']!.id);
    const ours = await http(server.url, 'GET', `/api/v2/agents?team_id=${server.teamId}`, { headers: bearer(outsider.token) });
    expect(ours.body).toMatchObject({ data: [], summary: { total: 0, groups: 0 } });
    const ourGroup = await http(server.url, 'GET', `/api/v2/agents?group_id=${groups['Web servers']!.id}`, { headers: bearer(outsider.token) });
    expect(ourGroup.body).toMatchObject({ data: [], summary: { total: 0, groups: 0 } });
    expect((await get('/api/v2/agents')).body.summary.total).toBe(7);
  });

  it('answers 304 to a matching If-None-Match, refuses unknown parameters, and is not deprecated', async () => {
    const first = await get('/api/v2/agents?limit=2');
    expect(first.headers.get('etag')).toBeTruthy();
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    expect(links(first)).toContain('</api/v2/agents?limit=2&offset=2>; rel="next"');
    const again = await get('/api/v2/agents?limit=2', { 'if-none-match': first.headers.get('etag')! });
    expect(again.status).toBe(304);
    // Items are always whole in v2: `fields` is not one of its parameters.
    const trimmed = await get('/api/v2/agents?fields=id');
    expect(trimmed.status).toBe(400);
    expect(trimmed.body.error.code).toBe('VAL_INVALID_PARAMETER');
    for (const res of [first, again, trimmed]) {
      expect(res.headers.get('deprecation')).toBeNull();
      expect(res.headers.get('sunset')).toBeNull();
    }
  });

  it('sees every change at once: a new membership, a new agent (the cached summary is invalidated)', async () => {
    const before = (await get('/api/v2/agents')).body.summary;
    expect((await server.call('POST', `/api/v1/agent-groups/${groups.Empty!.id}/members`, { json: { agent_ids: [agents.db3!.id] } })).status).toBe(200);
    const joined = await get('/api/v2/agents');
    expect(joined.body.summary).toEqual({ ...before, groups: before.groups + 1 });
    expect(joined.body.data.find((a: { id: string }) => a.id === agents.db3!.id).groups).toEqual([groups.Empty]);
    await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'maintenance' }) });
    const grown = (await get('/api/v2/agents')).body.summary;
    expect(grown).toEqual({ ...before, total: before.total + 1, by_status: { ...before.by_status, maintenance: before.by_status.maintenance + 1 }, groups: before.groups + 1 });
  });
});

// Until the sunset, on a clock before it whatever today's date (test/support/sunset.ts); after it, on a clock past it.
describe('the deprecated listAgents', () => {
  it('is deprecated in the contract, with a sunset and a successor', () => {
    expect(lifecycle.deprecated).toBe(true);
    expect(successor.operationId).toBe('listAgentsV2');
    expect(successor.path).toBe('/api/v2/agents');
    expect(Number.isNaN(sunset.getTime())).toBe(false);
    // Every answer it can give declares the three headers, 410 included.
    const responses = Object.entries(v1.operation.responses ?? {});
    expect(responses.map(([status]) => status)).toContain('410');
    for (const [status, response] of responses) {
      const headers = Object.keys(resolveRef<{ headers?: object }>(response as never).headers ?? {});
      expect(headers, status).toEqual(expect.arrayContaining(['Deprecation', 'Sunset', 'Link']));
    }
  });

  it('carries Deprecation, Sunset and the successor Link as the contract says, beside its pagination links', async () => {
    const res = await beforeSunset('listAgents', () => get('/api/v1/agents?limit=2&offset=2'));
    expect(res.status).toBe(200);
    expect(res.headers.get('deprecation')).toBe(expected.deprecation);
    expect(res.headers.get('sunset')).toBe(expected.sunset);
    expect(Date.parse(res.headers.get('sunset')!)).toBe(Math.floor(sunset.getTime() / 1000) * 1000);
    expect(links(res)).toEqual([
      '</api/v1/agents?limit=2&offset=0>; rel="first"',
      '</api/v1/agents?limit=2&offset=0>; rel="prev"',
      '</api/v1/agents?limit=2&offset=4>; rel="next"',
      '</api/v1/agents?limit=2&offset=6>; rel="last"',
      expected.successorLink,
    ]);
    // The links of the body are untouched.
    expect(res.body.pagination.links.next).toBe('/api/v1/agents?limit=2&offset=4');
  });

  it('carries them on every other answer too: 304, 400, 401, 403', async () => {
    const keyWithoutAgents = (await server.call('POST', '/api/v1/api-keys', { json: { name: 'no agents', scopes: ['profile:read'] } })).body.data.secret;
    const answers = await beforeSunset('listAgents', async () => {
      const page = await get('/api/v1/agents');
      const notModified = await get('/api/v1/agents', { 'if-none-match': page.headers.get('etag')! });
      const badQuery = await get('/api/v1/agents?limit=0');
      const anonymous = await http(server.url, 'GET', '/api/v1/agents');
      const denied = await http(server.url, 'GET', '/api/v1/agents', { headers: { 'x-api-key': keyWithoutAgents } });
      return { notModified, badQuery, anonymous, denied };
    });
    const { badQuery } = answers;
    expect(Object.fromEntries(Object.entries(answers).map(([name, res]) => [name, res.status]))).toEqual({ notModified: 304, badQuery: 400, anonymous: 401, denied: 403 });
    for (const [name, res] of Object.entries(answers)) {
      expect(res.headers.get('deprecation'), name).toBe(expected.deprecation);
      expect(res.headers.get('sunset'), name).toBe(expected.sunset);
      expect(links(res), name).toContain(expected.successorLink);
    }
    expect(badQuery.body.error.code).toBe('VAL_INVALID_PARAMETER');
    expect(links(badQuery)).toEqual([expected.successorLink]);
  });

  it('answers 410 RES_GONE once its sunset has passed, before any authentication, while v2 goes on', async () => {
    const anonymousBucket = (await http(server.url, 'GET', '/api/v2/agents')).headers.get('x-ratelimit-bucket');
    try {
      // A token signed an hour before the sunset has expired by then, whatever today's date.
      vi.useFakeTimers({ toFake: ['Date'], now: sunset.getTime() - 3_600_000 });
      const staleToken = (await login(server.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
      // Just before the sunset it still works (signing in on the moved clock, as JWTs are checked against it).
      vi.setSystemTime(sunset.getTime() - 1000);
      const lastDay = (await login(server.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
      expect((await http(server.url, 'GET', '/api/v1/agents', { headers: bearer(lastDay) })).status).toBe(200);

      vi.setSystemTime(sunset.getTime() + 1000);
      const fresh = (await login(server.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
      const answers = [
        await http(server.url, 'GET', '/api/v1/agents', { headers: bearer(fresh) }),
        // No credentials, and a token long expired by now: no authentication is attempted.
        await http(server.url, 'GET', '/api/v1/agents'),
        await http(server.url, 'GET', '/api/v1/agents?limit=5', { headers: bearer(staleToken) }),
      ];
      for (const gone of answers) {
        expect(gone.status).toBe(410);
        expect(gone.body).toMatchObject({ success: false, error: { code: 'RES_GONE', help_url: '/docs#tag/Errors' } });
        expect(gone.body.error.message).toContain(successor.path);
        expect(gone.headers.get('deprecation')).toBe(expected.deprecation);
        expect(gone.headers.get('sunset')).toBe(expected.sunset);
        expect(links(gone)).toEqual([expected.successorLink]);
        // No credential was looked at: the client address's bucket paid for it.
        expect(gone.headers.get('x-ratelimit-bucket')).toBe(anonymousBucket);
        expect(gone.headers.get('x-request-id')).toBeTruthy();
      }
      const v2 = await http(server.url, 'GET', '/api/v2/agents', { headers: bearer(fresh) });
      expect(v2.status).toBe(200);
      expect(v2.body.summary.total).toBeGreaterThan(0);
      // The stale token is refused by v2 as usual: 410 is only for what is gone.
      expect((await http(server.url, 'GET', '/api/v2/agents', { headers: bearer(staleToken) })).status).toBe(401);
    } finally {
      // Last in the file: rate-limit buckets touched on the moved clock would look a year ahead afterwards.
      vi.useRealTimers();
    }
  });
});
