// Inventory through the agent protocol: an enrolled host reports packages, services, hardware and metric
// samples with its agent key; operators read back exactly what was reported, filter packages by version
// (compared numerically, part by part), read metrics bucketed and aggregated in SQL, and search the fleet.
// Another team's agent is 404 everywhere, and reports are bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, type TestUser, createOutsider } from '../support/identity.ts';

let server: TestServer;
let outsider: TestUser;
let outsiderTeam: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ outsider, outsiderTeam } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
});

async function enrol(asOutsider = false) {
  const headers = asOutsider ? bearer(outsider.token) : bearer(server.adminToken);
  const team = asOutsider ? outsiderTeam : server.teamId;
  const token = (await http(server.url, 'POST', `/api/v1/teams/${team}/enrollment-tokens`, { headers, json: { name: 'inventory tests' } })).body.data.secret;
  const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent() } });
  expect(res.status).toBe(201);
  return { agent: res.body.data.agent as { id: string; hostname: string; team_id: string }, key: res.body.data.agent_key as string };
}
const asAgent = (key: string) => (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: { 'x-api-key': key }, json });

const hardware = { cpu_model: 'AMD EPYC 7R13 Processor', cpu_cores: 8, memory_bytes: 34_359_738_368, disk_bytes: 536_870_912_000, architecture: 'x86_64', virtualization: 'kvm' };
const packages = [
  { name: 'openssl', version: '3.0.13-0ubuntu3.4', available_version: '3.0.13-0ubuntu3.5', architecture: 'amd64' },
  { name: 'libfoo', version: '1.20.1' },
  { name: 'libbar', version: '1.9.9', available_version: null },
  { name: 'libbaz', version: '2:1.2.3-1ubuntu1', architecture: 'arm64' },
  { name: 'libc6', version: '2.39-0ubuntu8', architecture: 'amd64' },
  { name: 'libc6', version: '2.39-0ubuntu8', architecture: 'i386', available_version: '2.39-0ubuntu8.1' },
];
const services = [
  { name: 'nginx.service', state: 'running', enabled: true },
  { name: 'cron.service', state: 'stopped', enabled: false },
  { name: 'backup.service', state: 'failed', enabled: true },
];
const inventory = (overrides: Record<string, unknown> = {}) => ({ packages, services, hardware, ...overrides });

const names = (res: { body: { data: { name: string }[] } }) => res.body.data.map((p) => p.name);
const agentPackages = async (agentId: string, query = '') => server.call('GET', `/api/v1/agents/${agentId}/packages${query}`);

describe('reportInventory and the reads of one agent', () => {
  it('stores the report and reads back exactly what was reported; a report counts as a heartbeat', async () => {
    const { agent, key } = await enrol();
    // Offline since the operator says so: the report brings it back online, like a heartbeat.
    expect((await server.call('PATCH', `/api/v1/agents/${agent.id}`, { json: { status: 'offline' } })).status).toBe(200);
    const before = (await server.call('GET', `/api/v1/agents/${agent.id}`)).body.data;

    const reported = await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory());
    expect(reported.status).toBe(200);
    expect(reported.body.data).toMatchObject({ agent_id: agent.id, packages: 6, services: 3, updates_available: 2 });

    const after = (await server.call('GET', `/api/v1/agents/${agent.id}`)).body.data;
    expect(after.status).toBe('online');
    expect(Date.parse(after.last_seen)).toBeGreaterThanOrEqual(Date.parse(before.last_seen));

    const listed = await agentPackages(agent.id);
    expect(listed.status).toBe(200);
    const expected = packages
      .map((p) => ({ name: p.name, version: p.version, available_version: p.available_version ?? null, architecture: p.architecture ?? null }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // Same name: in report order.
    expect(listed.body.data).toEqual(expected);
    expect(listed.body.pagination).toMatchObject({ mode: 'offset', total: 6 });
    expect(listed.headers.get('etag')).toBeTruthy();

    const svc = await server.call('GET', `/api/v1/agents/${agent.id}/services`);
    expect(svc.body.data).toEqual([...services].sort((a, b) => a.name.localeCompare(b.name)));
    const failed = await server.call('GET', `/api/v1/agents/${agent.id}/services?state=failed`);
    expect(failed.body.data).toEqual([{ name: 'backup.service', state: 'failed', enabled: true }]);
    const byState = await server.call('GET', `/api/v1/agents/${agent.id}/services?sort=state:asc`);
    expect(byState.body.data.map((s: { state: string }) => s.state)).toEqual(['failed', 'running', 'stopped']);

    const hw = await server.call('GET', `/api/v1/agents/${agent.id}/hardware`);
    expect(hw.status).toBe(200);
    expect(hw.body.data).toEqual({ agent_id: agent.id, ...hardware, manufacturer: null, model: null, reported_at: reported.body.data.reported_at });
  });

  it('replaces the previous report entirely', async () => {
    const { agent, key } = await enrol();
    expect((await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory())).status).toBe(200);
    const second = await asAgent(key)('PUT', '/api/v1/agent/inventory', {
      packages: [{ name: 'openssl', version: '3.0.13-0ubuntu3.5', architecture: 'amd64' }],
      services: [],
      hardware: { ...hardware, cpu_cores: 16, model: 'm6a.4xlarge' },
    });
    expect(second.body.data).toMatchObject({ packages: 1, services: 0, updates_available: 0 });
    expect((await agentPackages(agent.id)).body.data).toEqual([{ name: 'openssl', version: '3.0.13-0ubuntu3.5', available_version: null, architecture: 'amd64' }]);
    expect((await server.call('GET', `/api/v1/agents/${agent.id}/services`)).body.data).toEqual([]);
    expect((await server.call('GET', `/api/v1/agents/${agent.id}/hardware`)).body.data).toMatchObject({ cpu_cores: 16, model: 'm6a.4xlarge', virtualization: 'kvm' });
  });

  it('applies concurrent reports of one agent one after the other, never mixed', async () => {
    const { agent, key } = await enrol();
    const reports = Array.from({ length: 6 }, (_, r) => inventory({ packages: Array.from({ length: 200 }, (_, i) => ({ name: `r${r}-p${String(i).padStart(3, '0')}`, version: '1.0' })) }));
    const answers = await Promise.all(reports.map((report) => asAgent(key)('PUT', '/api/v1/agent/inventory', report)));
    expect(answers.map((a) => a.status)).toEqual(reports.map(() => 200));
    const stored: string[] = [];
    for (let offset = 0; offset < 200; offset += 100) stored.push(...names(await agentPackages(agent.id, `?limit=100&offset=${offset}`)));
    expect((await agentPackages(agent.id, '?limit=1')).body.pagination.total).toBe(200);
    const winner = Number(stored[0]!.slice(1, stored[0]!.indexOf('-')));
    expect(stored).toEqual(reports[winner]!.packages.map((p: { name: string }) => p.name));
  });

  it('filters packages by name, search, update and versions compared numerically part by part', async () => {
    const { agent, key } = await enrol();
    await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory());
    // 1.20.1 > 1.9.9 (as numbers, not as text); an epoch counts as the first part.
    expect(names(await agentPackages(agent.id, '?version_gt=1.9.9'))).toEqual(['libbaz', 'libc6', 'libc6', 'libfoo', 'openssl']);
    expect(names(await agentPackages(agent.id, '?version_gt=1.10&version_lt=2'))).toEqual(['libfoo']);
    expect(names(await agentPackages(agent.id, '?version_lt=1.20.1'))).toEqual(['libbar']);
    expect(names(await agentPackages(agent.id, '?version_gt=1.20.1&version_lt=1.20.2'))).toEqual([]);
    expect(names(await agentPackages(agent.id, '?name=libc6'))).toEqual(['libc6', 'libc6']);
    expect(names(await agentPackages(agent.id, '?search=LIB&sort=name:desc'))).toEqual(['libfoo', 'libc6', 'libc6', 'libbaz', 'libbar']);
    expect(names(await agentPackages(agent.id, '?search=%25'))).toEqual([]);
    expect((await agentPackages(agent.id, '?has_update=true')).body.data).toEqual([
      { name: 'libc6', version: '2.39-0ubuntu8', available_version: '2.39-0ubuntu8.1', architecture: 'i386' },
      { name: 'openssl', version: '3.0.13-0ubuntu3.4', available_version: '3.0.13-0ubuntu3.5', architecture: 'amd64' },
    ]);
    expect(names(await agentPackages(agent.id, '?has_update=false'))).toEqual(['libbar', 'libbaz', 'libc6', 'libfoo']);
    expect((await agentPackages(agent.id, '?version_gt=abc')).status).toBe(400);
    expect((await agentPackages(agent.id, '?sort=version:asc')).status).toBe(400);
  });

  it('pages packages by offset and by cursor alike', async () => {
    const { agent, key } = await enrol();
    const many = Array.from({ length: 25 }, (_, i) => ({ name: `pkg-${String(i).padStart(2, '0')}`, version: `1.${i}` }));
    await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory({ packages: many }));
    const byCursor: string[] = [];
    let path = `/api/v1/agents/${agent.id}/packages?limit=10&cursor=`;
    for (;;) {
      const page = await server.call('GET', path);
      expect(page.status).toBe(200);
      byCursor.push(...names(page));
      if (!page.body.pagination.next_cursor) break;
      path = `/api/v1/agents/${agent.id}/packages?limit=10&cursor=${page.body.pagination.next_cursor}`;
    }
    expect(byCursor).toEqual(many.map((p) => p.name));
    const third = await agentPackages(agent.id, '?limit=10&offset=20');
    expect(names(third)).toEqual(many.slice(20).map((p) => p.name));
    expect(third.body.pagination).toMatchObject({ total: 25, page: 3, has_next: false });
  });

  it('answers 404 for the hardware of an agent that has not reported yet', async () => {
    const { agent } = await enrol();
    const res = await server.call('GET', `/api/v1/agents/${agent.id}/hardware`);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('RES_NOT_FOUND');
    expect(res.body.error.message).toContain('not reported');
    expect((await agentPackages(agent.id)).body.data).toEqual([]);
  });
});

describe('reportMetrics and getAgentMetrics', () => {
  // An hour boundary two hours ago, so every sample is in the past and buckets are known.
  const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
  const at = (minutes: number, seconds = 0) => new Date(base + minutes * 60_000 + seconds * 1000).toISOString();
  const range = (from: number, to: number) => `start_date=${encodeURIComponent(at(from))}&end_date=${encodeURIComponent(at(to))}`;

  it('buckets and aggregates known samples in SQL', async () => {
    const { agent, key } = await enrol();
    const samples = [
      { name: 'cpu_usage', at: at(0), value: 10 },
      { name: 'cpu_usage', at: at(1), value: 20 },
      { name: 'cpu_usage', at: at(4, 59), value: 30 },
      { name: 'cpu_usage', at: at(5), value: 40 },
      { name: 'cpu_usage', at: at(7), value: 50 },
      { name: 'cpu_usage', at: at(61), value: 60 },
      { name: 'memory_usage', at: at(0), value: 99 },
      { name: 'load_1m', at: at(0), value: 3.5 },
    ];
    const reported = await asAgent(key)('POST', '/api/v1/agent/metrics', { samples });
    expect(reported.status).toBe(204);
    expect(reported.text).toBe('');

    const get = (query: string) => server.call('GET', `/api/v1/agents/${agent.id}/metrics?name=cpu_usage&${query}`);
    const avg = await get(range(0, 120));
    expect(avg.status).toBe(200);
    expect(avg.body.data).toEqual({
      agent_id: agent.id,
      name: 'cpu_usage',
      bucket: '5m',
      aggregate: 'avg',
      start_date: at(0),
      end_date: at(120),
      points: [
        { at: at(0), value: 20, samples: 3 },
        { at: at(5), value: 45, samples: 2 },
        { at: at(60), value: 60, samples: 1 },
      ],
    });
    const points = async (query: string) => (await get(query)).body.data.points.map((p: { at: string; value: number; samples: number }) => [p.at, p.value, p.samples]);
    expect(await points(`${range(0, 120)}&aggregate=max`)).toEqual([[at(0), 30, 3], [at(5), 50, 2], [at(60), 60, 1]]);
    expect(await points(`${range(0, 120)}&aggregate=min&bucket=1h`)).toEqual([[at(0), 10, 5], [at(60), 60, 1]]);
    expect(await points(`${range(0, 120)}&aggregate=sum&bucket=15m`)).toEqual([[at(0), 150, 5], [at(60), 60, 1]]);
    expect(await points(`${range(0, 10)}&bucket=1m`)).toEqual([[at(0), 10, 1], [at(1), 20, 1], [at(4), 30, 1], [at(5), 40, 1], [at(7), 50, 1]]);
    // The end is exclusive, the start inclusive; a bucket starts on the clock even when the range does not.
    expect(await points(`${range(1, 5)}&bucket=5m`)).toEqual([[at(0), 25, 2]]);
    // Other metrics are separate series.
    const load = await server.call('GET', `/api/v1/agents/${agent.id}/metrics?name=load_1m&${range(0, 60)}`);
    expect(load.body.data.points).toEqual([{ at: at(0), value: 3.5, samples: 1 }]);
    expect((await server.call('GET', `/api/v1/agents/${agent.id}/metrics?name=disk_usage&${range(0, 60)}`)).body.data.points).toEqual([]);
  });

  it('replaces a sample reported again for the same metric and time', async () => {
    const { agent, key } = await enrol();
    await asAgent(key)('POST', '/api/v1/agent/metrics', { samples: [{ name: 'disk_usage', at: at(10), value: 70 }] });
    const again = await asAgent(key)('POST', '/api/v1/agent/metrics', {
      samples: [
        { name: 'disk_usage', at: at(10), value: 71 },
        { name: 'disk_usage', at: at(10), value: 72 },
      ],
    });
    expect(again.status).toBe(204);
    const res = await server.call('GET', `/api/v1/agents/${agent.id}/metrics?name=disk_usage&${range(0, 60)}&bucket=1h`);
    expect(res.body.data.points).toEqual([{ at: at(0), value: 72, samples: 1 }]);
  });

  it('refuses bad ranges with 400 and bad samples with 422', async () => {
    const { agent, key } = await enrol();
    const get = (query: string) => server.call('GET', `/api/v1/agents/${agent.id}/metrics?name=cpu_usage&${query}`);
    const backwards = await get(range(60, 0));
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.code).toBe('VAL_INVALID_PARAMETER');
    const long = await get(`start_date=2026-01-01T00:00:00Z&end_date=2026-02-01T00:00:01Z&bucket=1d`);
    expect(long.status).toBe(400);
    expect(long.body.error.details[0].field).toBe('end_date');
    expect((await get(`start_date=2026-01-01T00:00:00Z&end_date=2026-02-01T00:00:00Z&bucket=1d`)).status).toBe(200);
    const tooFine = await get(`start_date=2026-01-01T00:00:00Z&end_date=2026-01-02T00:00:01Z&bucket=1m`);
    expect(tooFine.status).toBe(400);
    expect(tooFine.body.error.details[0].field).toBe('bucket');
    expect((await get(`start_date=2026-01-01T00:00:00Z&end_date=2026-01-02T00:00:00Z&bucket=1m`)).status).toBe(200);
    expect((await server.call('GET', `/api/v1/agents/${agent.id}/metrics?name=cpu_usage&start_date=2026-01-01T00:00:00Z`)).status).toBe(400);
    expect((await get(`${range(0, 60)}&bucket=2m`)).status).toBe(400);

    const percent = await asAgent(key)('POST', '/api/v1/agent/metrics', { samples: [{ name: 'cpu_usage', at: at(0), value: 100.5 }] });
    expect(percent.status).toBe(422);
    expect(percent.body.error.details).toEqual([{ field: 'samples.0.value', message: expect.stringContaining('percentage'), value: 100.5 }]);
    const future = await asAgent(key)('POST', '/api/v1/agent/metrics', { samples: [{ name: 'load_1m', at: new Date(Date.now() + 3_600_000).toISOString(), value: 1 }] });
    expect(future.status).toBe(422);
    expect(future.body.error.details[0].field).toBe('samples.0.at');
    // Any metric name the pattern allows is accepted (metrics-query.test.ts); a capital is not.
    expect((await asAgent(key)('POST', '/api/v1/agent/metrics', { samples: [{ name: 'Temperature', at: at(0), value: 1 }] })).status).toBe(422);
    expect((await asAgent(key)('POST', '/api/v1/agent/metrics', { samples: [] })).status).toBe(422);
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ name: 'load_1m', at: at(0, i), value: 1 }));
    expect((await asAgent(key)('POST', '/api/v1/agent/metrics', { samples: tooMany })).status).toBe(422);
    // Nothing of a refused batch was stored.
    expect((await get(`${range(0, 60)}`)).body.data.points).toEqual([]);
  });
});

describe('fleet-wide package views', () => {
  it('searches packages across the caller’s agents only, and counts agents per update', async () => {
    const one = await enrol();
    const two = await enrol();
    const theirs = await enrol(true);
    const name = `fleetpkg-${Math.random().toString(36).slice(2, 8)}`;
    const report = (version: string, available: string | null) =>
      inventory({ packages: [{ name, version, available_version: available }, { name: `${name}-tools`, version: '0.1' }] });
    await asAgent(one.key)('PUT', '/api/v1/agent/inventory', report('1.9.9', '1.20.1'));
    await asAgent(two.key)('PUT', '/api/v1/agent/inventory', report('1.20.1', null));
    await asAgent(theirs.key)('PUT', '/api/v1/agent/inventory', report('1.9.9', '1.20.1'));

    const found = await server.call('GET', `/api/v1/inventory/packages/search?name=${name}&sort=hostname:asc`);
    expect(found.status).toBe(200);
    const mine = [
      { agent_id: one.agent.id, hostname: one.agent.hostname, team_id: server.teamId, name, version: '1.9.9', available_version: '1.20.1', architecture: null },
      { agent_id: two.agent.id, hostname: two.agent.hostname, team_id: server.teamId, name, version: '1.20.1', available_version: null, architecture: null },
    ].sort((a, b) => (a.hostname < b.hostname ? -1 : 1));
    expect(found.body.data).toEqual(mine);
    expect(found.body.pagination.total).toBe(2);

    const newer = await server.call('GET', `/api/v1/inventory/packages/search?name=${name}&version_gt=1.10`);
    expect(newer.body.data.map((p: { agent_id: string }) => p.agent_id)).toEqual([two.agent.id]);
    const searched = await server.call('GET', `/api/v1/inventory/packages/search?search=${name.toUpperCase()}&has_update=false&sort=name:asc,hostname:asc`);
    expect(searched.body.data.map((p: { name: string }) => p.name)).toEqual([name, `${name}-tools`, `${name}-tools`]);
    expect((await server.call('GET', `/api/v1/inventory/packages/search?name=${name}&team_id=${outsiderTeam}`)).body.data).toEqual([]);
    const unfiltered = await server.call('GET', '/api/v1/inventory/packages/search');
    expect(unfiltered.status).toBe(400);
    expect(unfiltered.body.error.code).toBe('VAL_INVALID_PARAMETER');

    // The outsider sees only their own agent.
    const theirView = await http(server.url, 'GET', `/api/v1/inventory/packages/search?name=${name}`, { headers: bearer(outsider.token) });
    expect(theirView.body.data.map((p: { agent_id: string }) => p.agent_id)).toEqual([theirs.agent.id]);

    const updates = await server.call('GET', `/api/v1/inventory/packages/updates?search=${name}`);
    expect(updates.status).toBe(200);
    expect(updates.body.data).toEqual([{ name, version: '1.9.9', available_version: '1.20.1', agents: 1 }]);
    // A third agent of the team with the same outdated version counts too.
    const three = await enrol();
    await asAgent(three.key)('PUT', '/api/v1/agent/inventory', report('1.9.9', '1.20.1'));
    expect((await server.call('GET', `/api/v1/inventory/packages/updates?name=${name}`)).body.data).toEqual([{ name, version: '1.9.9', available_version: '1.20.1', agents: 2 }]);
    expect((await http(server.url, 'GET', `/api/v1/inventory/packages/updates?name=${name}`, { headers: bearer(outsider.token) })).body.data).toEqual([
      { name, version: '1.9.9', available_version: '1.20.1', agents: 1 },
    ]);
  });

  it('pages package updates by cursor, most widespread first', async () => {
    const prefix = `upd-${Math.random().toString(36).slice(2, 8)}`;
    const agents = await Promise.all([enrol(), enrol(), enrol()]);
    // Package i is outdated on i+1 agents (up to 3).
    for (const [n, { key }] of agents.entries()) {
      const pkgs = Array.from({ length: 5 }, (_, i) => ({ name: `${prefix}-${i}`, version: '1.0', available_version: i >= n ? '1.1' : null }));
      await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory({ packages: pkgs }));
    }
    const walked: [string, number][] = [];
    let path = `/api/v1/inventory/packages/updates?search=${prefix}&limit=2&cursor=`;
    for (;;) {
      const page = await server.call('GET', path);
      expect(page.status).toBe(200);
      walked.push(...page.body.data.map((u: { name: string; agents: number }) => [u.name, u.agents] as [string, number]));
      if (!page.body.pagination.next_cursor) break;
      path = `/api/v1/inventory/packages/updates?search=${prefix}&limit=2&cursor=${page.body.pagination.next_cursor}`;
    }
    expect(walked).toEqual([[`${prefix}-2`, 3], [`${prefix}-3`, 3], [`${prefix}-4`, 3], [`${prefix}-1`, 2], [`${prefix}-0`, 1]]);
    const byName = await server.call('GET', `/api/v1/inventory/packages/updates?search=${prefix}&sort=name:asc`);
    expect(byName.body.data.map((u: { name: string }) => u.name)).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`));
  });
});

describe('tenancy and bounds', () => {
  it("answers 404 for another team's agent on every per-agent read, as for a missing one", async () => {
    const theirs = await enrol(true);
    await asAgent(theirs.key)('PUT', '/api/v1/agent/inventory', inventory());
    await asAgent(theirs.key)('POST', '/api/v1/agent/metrics', { samples: [{ name: 'cpu_usage', at: new Date(Date.now() - 60_000).toISOString(), value: 5 }] });
    const range = `start_date=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}&end_date=${encodeURIComponent(new Date().toISOString())}`;
    for (const suffix of ['packages', 'services', 'hardware', `metrics?name=cpu_usage&${range}`]) {
      const res = await server.call('GET', `/api/v1/agents/${theirs.agent.id}/${suffix}`);
      expect(res.status, suffix).toBe(404);
      expect(res.body.error.message).toBe(`Agent ${theirs.agent.id} not found`);
    }
    // Their own operator reads them.
    expect((await http(server.url, 'GET', `/api/v1/agents/${theirs.agent.id}/hardware`, { headers: bearer(outsider.token) })).status).toBe(200);
  });

  it('keeps agent keys and users to their own side', async () => {
    const { agent, key } = await enrol();
    expect((await asAgent(key)('GET', `/api/v1/agents/${agent.id}/packages`)).status).toBe(403);
    expect((await server.call('PUT', '/api/v1/agent/inventory', { json: inventory() })).status).toBe(403);
    expect((await http(server.url, 'PUT', '/api/v1/agent/inventory', { json: inventory() })).status).toBe(401);
  });

  it('bounds a report: 10,000 packages are taken, one more is 422, repeats are 422, too many bytes are 413', async () => {
    const { agent, key } = await enrol();
    const pkgs = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `p${i}`, version: `1.${i}` }));
    const full = await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory({ packages: pkgs(10_000) }));
    expect(full.status).toBe(200);
    expect(full.body.data.packages).toBe(10_000);
    expect((await agentPackages(agent.id, '?limit=1')).body.pagination.total).toBe(10_000);
    expect(names(await agentPackages(agent.id, '?name=p9999'))).toEqual(['p9999']);

    const over = await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory({ packages: pkgs(10_001) }));
    expect(over.status).toBe(422);
    expect(over.body.error.details[0].field).toBe('packages');
    const tooManyServices = Array.from({ length: 2001 }, (_, i) => ({ name: `s${i}`, state: 'running', enabled: true }));
    expect((await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory({ services: tooManyServices }))).status).toBe(422);

    const repeated = await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory({ packages: [...packages, packages[1]], services: [...services, services[0]] }));
    expect(repeated.status).toBe(422);
    expect(repeated.body.error.code).toBe('VAL_MULTIPLE_ERRORS');
    expect(repeated.body.error.details.map((d: { field: string }) => d.field)).toEqual(['packages.6', 'services.3']);
    // Same name and version on two architectures is not a repeat (multiarch).
    expect((await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory())).status).toBe(200);

    const huge = Array.from({ length: 9_000 }, (_, i) => ({ name: `package-with-a-long-name-${i}`.padEnd(100, 'x'), version: `1.${i}` }));
    const tooBig = await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory({ packages: huge }));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('VAL_PAYLOAD_TOO_LARGE');
    // The refused reports changed nothing.
    expect((await agentPackages(agent.id)).body.pagination.total).toBe(6);

    expect((await asAgent(key)('PUT', '/api/v1/agent/inventory', { packages: [], services: [] })).status).toBe(422);
    expect((await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory({ hardware: { ...hardware, cpu_cores: 0 } }))).status).toBe(422);
  });

  it('deleting an agent deletes its inventory and metrics', async () => {
    const { agent, key } = await enrol();
    await asAgent(key)('PUT', '/api/v1/agent/inventory', inventory());
    await asAgent(key)('POST', '/api/v1/agent/metrics', { samples: [{ name: 'cpu_usage', at: new Date(Date.now() - 60_000).toISOString(), value: 5 }] });
    expect((await server.call('DELETE', `/api/v1/agents/${agent.id}`)).status).toBe(204);
    const db = server.database.db;
    for (const table of ['agent_packages', 'agent_services', 'agent_hardware', 'agent_metrics'] as const) {
      const rows = await db.selectFrom(table).select('agent_id').where('agent_id', '=', agent.id).execute();
      expect(rows, table).toEqual([]);
    }
  });
});
