// Dashboards over HTTP: CRUD with names unique per team, versions that count changes, If-Match (412 on a stale
// ETag, and nothing changes), merge patch (`panels` replaces them all), panels checked like queryMetrics bodies and
// against the grid, another team's dashboard 404 everywhere, every write in the audit log, and a dashboard's data:
// each panel answered with the numbers its agents reported.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createOutsider, type TestUser } from '../support/identity.ts';

let server: TestServer;
let outsider: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  ({ outsider } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
});

const cpuQuery = { metrics: ['cpu_usage'], from: '2026-11-14T00:00:00Z', to: '2026-11-21T00:00:00Z', step: 'PT1H', aggregation: 'avg', group_by: 'platform' };
const panel = (title: string, position = { x: 0, y: 0, w: 12, h: 8 }, query: Record<string, unknown> = cpuQuery) => ({ title, position, query });

let serial = 0;
const dashboardName = (label = 'dashboard') => `${label} ${(serial += 1)} ${Math.random().toString(36).slice(2, 8)}`;
async function newDashboard(body: Record<string, unknown> = {}) {
  const res = await server.call('POST', '/api/v1/metrics/dashboards', { json: { name: dashboardName(), ...body } });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string; name: string; version: number; updated_at: string; panels: unknown[] };
}

/** The operations the audit log recorded on a target, once there are `count` (they are written after the answer). */
async function auditedOperations(targetId: string, count: number): Promise<string[]> {
  let operations: string[] = [];
  for (let i = 0; i < 50 && operations.length < count; i += 1) {
    if (i > 0) await new Promise((r) => setTimeout(r, 50));
    const rows = await server.database.db.selectFrom('audit_events').select('operation_id').where('target_id', '=', targetId).execute();
    operations = rows.map((r) => r.operation_id).sort();
  }
  return operations;
}

describe('dashboards', () => {
  it('creates (201 + Location), reads with an ETag, lists, patches as new versions and deletes; every write is audited', async () => {
    const created = await server.call('POST', '/api/v1/metrics/dashboards', {
      json: { name: 'Fleet overview', description: 'CPU by platform', panels: [panel('CPU by platform')] },
    });
    expect(created.status, created.text).toBe(201);
    const dashboard = created.body.data;
    expect(dashboard).toMatchObject({ team_id: server.teamId, name: 'Fleet overview', description: 'CPU by platform', version: 1, panels: [panel('CPU by platform')] });
    expect(created.headers.get('location')).toBe(`/api/v1/metrics/dashboards/${dashboard.id}`);

    const fetched = await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.data).toEqual(dashboard);
    expect(fetched.headers.get('etag')).toBeTruthy();
    expect((await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}`, { headers: { 'if-none-match': fetched.headers.get('etag')! } })).status).toBe(304);

    const listed = await server.call('GET', '/api/v1/metrics/dashboards?search=fleet%20over');
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([dashboard]);
    expect(listed.body.pagination).toMatchObject({ mode: 'offset', total: 1 });

    const renamed = await server.call('PATCH', `/api/v1/metrics/dashboards/${dashboard.id}`, { json: { name: 'Overview', description: null } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({ name: 'Overview', description: null, version: 2, panels: [panel('CPU by platform')] });
    const relaid = await server.call('PATCH', `/api/v1/metrics/dashboards/${dashboard.id}`, {
      json: { panels: [panel('Memory', { x: 0, y: 0, w: 24, h: 4 }, { ...cpuQuery, metrics: ['memory_usage'] }), panel('Disk p95', { x: 0, y: 4, w: 6, h: 4 }, { ...cpuQuery, from: '2026-11-20T00:00:00Z', aggregation: 'p95', step: 900, group_by: 'label:mount' })] },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(relaid.status, relaid.text).toBe(200);
    expect(relaid.body.data.version).toBe(3);
    expect(relaid.body.data.panels.map((p: { title: string }) => p.title)).toEqual(['Memory', 'Disk p95']);
    // An empty patch changes nothing, not even the version.
    expect((await server.call('PATCH', `/api/v1/metrics/dashboards/${dashboard.id}`, { json: {} })).body.data.version).toBe(3);

    expect((await server.call('DELETE', `/api/v1/metrics/dashboards/${dashboard.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}`)).status).toBe(404);
    expect((await server.call('DELETE', `/api/v1/metrics/dashboards/${dashboard.id}`)).status).toBe(404);
    expect(await auditedOperations(dashboard.id, 6)).toEqual(['createDashboard', 'deleteDashboard', 'deleteDashboard', 'updateDashboard', 'updateDashboard', 'updateDashboard']);
  });

  it('honours If-Match on update and delete: a stale ETag is 412 and changes nothing', async () => {
    const dashboard = await newDashboard({ panels: [panel('CPU')] });
    const etag = (await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}`)).headers.get('etag')!;
    const first = await server.call('PATCH', `/api/v1/metrics/dashboards/${dashboard.id}`, { json: { description: 'second' }, headers: { 'if-match': etag } });
    expect(first.status).toBe(200);
    expect(first.body.data.version).toBe(2);
    const stale = await server.call('PATCH', `/api/v1/metrics/dashboards/${dashboard.id}`, { json: { description: 'third' }, headers: { 'if-match': etag } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('RES_PRECONDITION_FAILED');
    expect((await server.call('DELETE', `/api/v1/metrics/dashboards/${dashboard.id}`, { headers: { 'if-match': etag } })).status).toBe(412);
    const current = await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}`);
    expect(current.body.data).toMatchObject({ description: 'second', version: 2 });
    expect((await server.call('DELETE', `/api/v1/metrics/dashboards/${dashboard.id}`, { headers: { 'if-match': current.headers.get('etag')! } })).status).toBe(204);
  });

  it('keeps names unique per team regardless of case (409), and checks panels (422)', async () => {
    const dashboard = await newDashboard();
    const taken = await server.call('POST', '/api/v1/metrics/dashboards', { json: { name: dashboard.name.toUpperCase() } });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('RES_ALREADY_EXISTS');
    const other = await newDashboard();
    expect((await server.call('PATCH', `/api/v1/metrics/dashboards/${other.id}`, { json: { name: dashboard.name } })).status).toBe(409);

    const refused = async (panels: unknown[], field: string, code = 'VAL_ERROR') => {
      const res = await server.call('POST', '/api/v1/metrics/dashboards', { json: { name: dashboardName(), panels } });
      expect(res.status, JSON.stringify(panels)).toBe(422);
      if (field) {
        expect(res.body.error.code).toBe(code);
        expect(res.body.error.details[0].field).toBe(field);
      }
    };
    await refused([panel('A', { x: 20, y: 0, w: 8, h: 4 })], 'panels.0.position.w');
    await refused([panel('A'), panel('B', { x: 0, y: 98, w: 4, h: 4 })], 'panels.1.position.h');
    await refused([panel('A'), panel('B', { x: 0, y: 0, w: 4, h: 4 }, { ...cpuQuery, step: 30 })], 'panels.1.query.step', 'VAL_QUERY_TOO_LARGE');
    await refused([panel('A', { x: 0, y: 0, w: 4, h: 4 }, { ...cpuQuery, from: '2026-01-01T00:00:00Z' })], 'panels.0.query.to', 'VAL_QUERY_TOO_LARGE');
    // What the schema refuses, the validator refuses.
    await refused([panel('A', { x: 24, y: 0, w: 1, h: 1 })], '');
    await refused([panel('A', { x: 0, y: 0, w: 4, h: 4 }, { ...cpuQuery, aggregation: 'median' })], '');
    await refused(Array.from({ length: 25 }, (_, i) => panel(`P${i}`, { x: 0, y: i, w: 1, h: 1 })), '');
    expect((await server.call('PATCH', `/api/v1/metrics/dashboards/${other.id}`, { json: { panels: [panel('A', { x: 20, y: 0, w: 8, h: 4 })] } })).status).toBe(422);
  });

  it("answers 404 for another team's dashboard and never lists it", async () => {
    const dashboard = await newDashboard();
    const as = { headers: bearer(outsider.token) };
    expect((await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}`, as)).status).toBe(404);
    expect((await server.call('PATCH', `/api/v1/metrics/dashboards/${dashboard.id}`, { ...as, json: { description: 'mine now' } })).status).toBe(404);
    expect((await server.call('DELETE', `/api/v1/metrics/dashboards/${dashboard.id}`, as)).status).toBe(404);
    const listed = await server.call('GET', '/api/v1/metrics/dashboards', as);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([]);
    expect((await server.call('GET', `/api/v1/metrics/dashboards/${randomUUID()}`)).status).toBe(404);
    // Untouched.
    expect((await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}`)).body.data.version).toBe(1);
  });

  it('lists in name order by default and pages with a cursor', async () => {
    const names = ['zeta plank', 'Alpha plank', 'mid plank'];
    for (const name of names) await newDashboard({ name: `${name} ${serial}` });
    const all = await server.call('GET', '/api/v1/metrics/dashboards?search=plank&limit=100');
    const listed = all.body.data.map((d: { name: string }) => d.name);
    expect(listed).toEqual([...listed].sort((x: string, y: string) => x.toLowerCase().localeCompare(y.toLowerCase())));
    const first = await server.call('GET', '/api/v1/metrics/dashboards?search=plank&limit=2&cursor=&sort=updated_at:desc');
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    const next = await server.call('GET', `/api/v1/metrics/dashboards?search=plank&limit=2&cursor=${encodeURIComponent(first.body.pagination.next_cursor)}&sort=updated_at:desc`);
    expect(next.body.data).toHaveLength(1);
    // Newest first: the first one created comes last.
    expect(next.body.data[0].name).toMatch(/^zeta plank/);
    expect(listed).toHaveLength(3);
  });

  it("answers every panel's query with the numbers reported, in the dashboard's order; another team's is 404", async () => {
    const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'dashboard data' } })).body.data.secret;
    const enrol = async (platform: string) => {
      const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent({ platform }) } });
      expect(res.status).toBe(201);
      return res.body.data.agent_key as string;
    };
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
    const at = (minutes: number) => new Date(hour + minutes * 60_000).toISOString();
    const report = async (key: string, samples: unknown[]) =>
      expect((await http(server.url, 'POST', '/api/v1/agent/metrics', { headers: { 'x-api-key': key }, json: { samples } })).status).toBe(204);
    const linux = await enrol('linux');
    const windows = await enrol('windows');
    await report(linux, [
      { name: 'dashboard_temp', at: at(0), value: 10 },
      { name: 'dashboard_temp', at: at(30), value: 30 },
      { name: 'dashboard_temp', at: at(70), value: 50 },
    ]);
    await report(windows, [{ name: 'dashboard_temp', at: at(10), value: 2 }]);
    const range = { metrics: ['dashboard_temp'], from: at(0), to: at(120), step: 'PT1H' };
    const dashboard = await newDashboard({
      panels: [
        panel('Max by platform', { x: 0, y: 0, w: 12, h: 4 }, { ...range, aggregation: 'max', group_by: 'platform' }),
        panel('Fleet average', { x: 12, y: 0, w: 12, h: 4 }, { ...range, aggregation: 'avg' }),
      ],
    });
    const res = await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}/data`);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('etag')).toBeTruthy();
    expect(res.body.data.dashboard_id).toBe(dashboard.id);
    expect(res.body.data.version).toBe(1);
    expect(res.body.data.panels.map((p: { title: string }) => p.title)).toEqual(['Max by platform', 'Fleet average']);
    expect(res.body.data.panels[0].result.series).toEqual([
      { metric: 'dashboard_temp', group: 'linux', group_name: 'linux', points: [{ at: at(0), value: 30, samples: 2 }, { at: at(60), value: 50, samples: 1 }] },
      { metric: 'dashboard_temp', group: 'windows', group_name: 'windows', points: [{ at: at(0), value: 2, samples: 1 }] },
    ]);
    expect(res.body.data.panels[1].result.series).toEqual([
      { metric: 'dashboard_temp', group: null, group_name: null, points: [{ at: at(0), value: 14, samples: 3 }, { at: at(60), value: 50, samples: 1 }] },
    ]);
    // The outsider's teams have no agents reporting it; the dashboard itself is not theirs.
    expect((await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}/data`, { headers: bearer(outsider.token) })).status).toBe(404);
  });
});
