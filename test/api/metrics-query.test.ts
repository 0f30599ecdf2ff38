// Metric names as data and fleet-wide metric queries, over HTTP on a small known fleet: agents report any metric
// name the contract's pattern allows, with labels, within the `x-metrics` bounds; `queryMetrics` answers the numbers
// a plain reference computation (below, independent of SQL) gives from the same samples, whether an hour is read
// from its samples (written since its rollup) or from the hourly rollups; another team's agents never count; and
// queries past the bounds are refused with 422.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policy, type MetricsPolicy } from '../../server/contract.ts';
import { rollUpMarked } from '../../server/modules/inventory/inventory.repository.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createOutsider, type TestUser } from '../support/identity.ts';

const LIMITS = policy<MetricsPolicy>('x-metrics');
const HOUR = 3_600_000;
/** Three whole hours ago: every sample below lies in the three hours since. */
const BASE = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
const at = (minutes: number) => new Date(BASE + minutes * 60_000).toISOString();

let server: TestServer;
let outsider: TestUser;
let outsiderTeam: string;

interface Fleet {
  id: string;
  hostname: string;
  platform: string;
  key: string;
}
let a: Fleet, b: Fleet, c: Fleet, d: Fleet;
let groupId: string;

async function enrol(platform: string, asOutsider = false): Promise<Fleet> {
  const headers = bearer(asOutsider ? outsider.token : server.adminToken);
  const team = asOutsider ? outsiderTeam : server.teamId;
  const token = (await http(server.url, 'POST', `/api/v1/teams/${team}/enrollment-tokens`, { headers, json: { name: 'metrics query tests' } })).body.data.secret;
  const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent({ platform }) } });
  expect(res.status).toBe(201);
  return { id: res.body.data.agent.id, hostname: res.body.data.agent.hostname, platform, key: res.body.data.agent_key };
}

interface Sample {
  agent: Fleet;
  name: string;
  at: string;
  value: number;
  labels?: Record<string, string>;
}

const report = (agent: Fleet, samples: Omit<Sample, 'agent'>[]) => http(server.url, 'POST', '/api/v1/agent/metrics', { headers: { 'x-api-key': agent.key }, json: { samples } });

/** Every sample stored so far, as the reference computation reads them. */
const stored: Sample[] = [];
async function store(samples: Sample[]): Promise<void> {
  for (const agent of new Set(samples.map((s) => s.agent))) {
    const res = await report(
      agent,
      samples.filter((s) => s.agent === agent).map(({ agent: _agent, ...s }) => s),
    );
    expect(res.status).toBe(204);
  }
  stored.push(...samples);
}

// ---- the reference: what the answer must be, computed in plain TypeScript

/** PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks. */
function percentileCont(values: number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  const rank = q * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

function combine(aggregation: string, values: number[]): number {
  switch (aggregation) {
    case 'avg':
      return values.reduce((s, v) => s + v, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    case 'sum':
      return values.reduce((s, v) => s + v, 0);
    case 'count':
      return values.length;
    default:
      return percentileCont(values, Number(aggregation.slice(1)) / 100);
  }
}

interface Query {
  metrics: string[];
  from: string;
  to: string;
  step: number | string;
  aggregation: string;
  group_by?: string;
  filter?: { agent_ids?: string[]; platform?: string; labels?: Record<string, string> };
}

function expected(query: Query, stepSeconds: number, mine: Fleet[], groupOf: (s: Sample) => Array<[string | null, string | null]>) {
  const from = Date.parse(query.from);
  const to = Date.parse(query.to);
  const width = stepSeconds * 1000;
  const buckets = new Map<string, { metric: string; group: string | null; group_name: string | null; at: number; values: number[] }>();
  for (const s of stored) {
    const t = Date.parse(s.at);
    if (!mine.includes(s.agent) || !query.metrics.includes(s.name) || t < from || t >= to) continue;
    if (query.filter?.platform && s.agent.platform !== query.filter.platform) continue;
    if (query.filter?.agent_ids && !query.filter.agent_ids.includes(s.agent.id)) continue;
    if (query.filter?.labels && !Object.entries(query.filter.labels).every(([k, v]) => s.labels?.[k] === v)) continue;
    for (const [group, group_name] of groupOf(s)) {
      const bucket = Math.floor(t / width) * width;
      const key = JSON.stringify([s.name, group, bucket]);
      const entry = buckets.get(key) ?? { metric: s.name, group, group_name, at: bucket, values: [] };
      entry.values.push(s.value);
      buckets.set(key, entry);
    }
  }
  const series = new Map<string, { metric: string; group: string | null; group_name: string | null; points: { at: string; value: number; samples: number }[] }>();
  const ordered = [...buckets.values()].sort(
    (x, y) => (x.metric < y.metric ? -1 : x.metric > y.metric ? 1 : 0) || (x.group === y.group ? 0 : x.group === null ? 1 : y.group === null ? -1 : x.group < y.group ? -1 : 1) || x.at - y.at,
  );
  for (const entry of ordered) {
    const key = JSON.stringify([entry.metric, entry.group]);
    const s = series.get(key) ?? { metric: entry.metric, group: entry.group, group_name: entry.group_name, points: [] };
    s.points.push({ at: new Date(entry.at).toISOString(), value: combine(query.aggregation, entry.values), samples: entry.values.length });
    series.set(key, s);
  }
  return [...series.values()];
}

const query = (body: unknown, token = server.adminToken) => http(server.url, 'POST', '/api/v1/metrics/query', { headers: bearer(token), json: body });

/** The answer's series with values rounded (sums of floats differ in the last digits by order). */
const rounded = (series: { points: { value: number }[] }[]) => series.map((s) => ({ ...s, points: s.points.map((p) => ({ ...p, value: Math.round(p.value * 1e9) / 1e9 })) }));

async function expectAnswer(body: Query, stepSeconds: number, groupOf: (s: Sample) => Array<[string | null, string | null]>) {
  const res = await query(body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.data).toMatchObject({ from: new Date(body.from).toISOString(), to: new Date(body.to).toISOString(), step_seconds: stepSeconds, aggregation: body.aggregation, group_by: body.group_by ?? 'fleet' });
  const want = expected(body, stepSeconds, [a, b, c], groupOf);
  expect(want.length).toBeGreaterThan(0);
  expect(rounded(res.body.data.series)).toEqual(rounded(want));
}

beforeAll(async () => {
  // Workers off: the test rolls the hours up itself, when it wants to read them from the rollups.
  server = await startTestServer({ BACKGROUND_WORKERS: 'false' });
  ({ outsider, outsiderTeam } = await createOutsider(server.url, server.adminToken));
  a = await enrol('linux');
  b = await enrol('linux');
  c = await enrol('windows');
  d = await enrol('linux', true);
  const group = await server.call('POST', '/api/v1/agent-groups', { json: { name: 'Web servers' } });
  groupId = group.body.data.id;
  expect((await server.call('POST', `/api/v1/agent-groups/${groupId}/members`, { json: { agent_ids: [a.id, c.id] } })).status).toBe(200);
  await store([
    { agent: a, name: 'cpu_usage', at: at(0), value: 10 },
    { agent: a, name: 'cpu_usage', at: at(30), value: 20 },
    { agent: a, name: 'cpu_usage', at: at(61), value: 35 },
    { agent: a, name: 'cpu_usage', at: at(150), value: 12.5 },
    { agent: b, name: 'cpu_usage', at: at(5), value: 40 },
    { agent: b, name: 'cpu_usage', at: at(45), value: 41 },
    { agent: b, name: 'cpu_usage', at: at(95), value: 50 },
    { agent: c, name: 'cpu_usage', at: at(15), value: 60 },
    { agent: c, name: 'cpu_usage', at: at(75), value: 70 },
    { agent: a, name: 'queue_depth', at: at(10), value: 5, labels: { queue: 'high', host_role: 'web' } },
    { agent: a, name: 'queue_depth', at: at(10), value: 7, labels: { queue: 'low' } },
    { agent: b, name: 'queue_depth', at: at(20), value: 11, labels: { queue: 'high' } },
    { agent: c, name: 'queue_depth', at: at(80), value: 3 },
    // Another team's agent: never in the answers.
    { agent: d, name: 'cpu_usage', at: at(0), value: 99 },
    { agent: d, name: 'queue_depth', at: at(10), value: 1000, labels: { queue: 'high' } },
  ]);
});
afterAll(async () => {
  await server?.close();
});

const week = { from: at(0), to: at(180) };
const byAgent = (s: Sample): Array<[string, string]> => [[s.agent.id, s.agent.hostname]];
const byPlatform = (s: Sample): Array<[string, string]> => [[s.agent.platform, s.agent.platform]];
const byGroup = (s: Sample): Array<[string | null, string | null]> => (s.agent === a || s.agent === c ? [[groupId, 'Web servers']] : [[null, null]]);
const byQueue = (s: Sample): Array<[string | null, string | null]> => [[s.labels?.queue ?? null, s.labels?.queue ?? null]];
const fleet = (): Array<[null, null]> => [[null, null]];

describe('metric names as data', () => {
  it('accepts any name the pattern allows, with labels, and keeps series with other labels apart', async () => {
    const name = `x${'y'.repeat(99)}`;
    const res = await report(a, [
      { name, at: at(1), value: 1 },
      { name: 'disk_usage', at: at(1), value: 71.5, labels: { mount: '/var' } },
      { name: 'disk_usage', at: at(1), value: 20, labels: { mount: '/' } },
    ]);
    expect(res.status).toBe(204);
    // getAgentMetrics takes any name, and aggregates a metric's series of every label set.
    const read = await server.call('GET', `/api/v1/agents/${a.id}/metrics?name=disk_usage&start_date=${at(0)}&end_date=${at(60)}&bucket=1h&aggregate=sum`);
    expect(read.status).toBe(200);
    expect(read.body.data.points).toEqual([{ at: at(0), value: 91.5, samples: 2 }]);
    expect((await server.call('GET', `/api/v1/agents/${a.id}/metrics?name=${name}&start_date=${at(0)}&end_date=${at(60)}`)).body.data.points).toEqual([
      { at: at(0), value: 1, samples: 1 },
    ]);
    // The same labels in another order are the same series: the later sample replaces the earlier.
    await report(a, [{ name: 'disk_usage', at: at(1), value: 72, labels: { mount: '/var' } }]);
    const again = await server.call('GET', `/api/v1/agents/${a.id}/metrics?name=disk_usage&start_date=${at(0)}&end_date=${at(60)}&bucket=1h&aggregate=sum`);
    expect(again.body.data.points).toEqual([{ at: at(0), value: 92, samples: 2 }]);
  });

  it('refuses names, labels and reports past the bounds with 422', async () => {
    const refused = async (samples: unknown[]) => {
      const res = await http(server.url, 'POST', '/api/v1/agent/metrics', { headers: { 'x-api-key': b.key }, json: { samples } });
      expect(res.status, JSON.stringify(samples).slice(0, 200)).toBe(422);
      return res.body.error;
    };
    await refused([{ name: 'x'.repeat(101), at: at(1), value: 1 }]);
    await refused([{ name: 'CPU', at: at(1), value: 1 }]);
    await refused([{ name: '9lives', at: at(1), value: 1 }]);
    await refused([{ name: 'http.requests', at: at(1), value: 1 }]);
    await refused([{ name: 'ok', at: at(1), value: 1, labels: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'])) }]);
    await refused([{ name: 'ok', at: at(1), value: 1, labels: { 'Bad-Key': 'v' } }]);
    await refused([{ name: 'ok', at: at(1), value: 1, labels: { key: 'v'.repeat(129) } }]);
    await refused([{ name: 'ok', at: at(1), value: 1, labels: { key: '' } }]);
    await refused([{ name: 'ok', at: at(1), value: 1, labels: { key: 3 } }]);
    const names = Array.from({ length: LIMITS.report_max_names + 1 }, (_, i) => ({ name: `metric_${i}`, at: at(1), value: 1 }));
    const error = await refused(names);
    expect(error.code).toBe('VAL_QUERY_TOO_LARGE');
    expect((await report(b, names.slice(0, LIMITS.report_max_names))).status).toBe(204);
  });
});

describe('queryMetrics', () => {
  it('answers the reference numbers for every aggregation, from the samples and then from the rollups', async () => {
    const cases: Array<[Query, number, (s: Sample) => Array<[string | null, string | null]>]> = [
      [{ metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'avg', group_by: 'platform' }, 3600, byPlatform],
      [{ metrics: ['cpu_usage'], ...week, step: 3600, aggregation: 'min', group_by: 'agent' }, 3600, byAgent],
      [{ metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'max' }, 3600, fleet],
      [{ metrics: ['cpu_usage', 'queue_depth'], ...week, step: 'PT3H', aggregation: 'sum', group_by: 'group' }, 10800, byGroup],
      [{ metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'count', group_by: 'platform', filter: { platform: 'linux' } }, 3600, byPlatform],
      [{ metrics: ['queue_depth'], ...week, step: 'PT1H', aggregation: 'sum', group_by: 'label:queue' }, 3600, byQueue],
      [{ metrics: ['queue_depth'], ...week, step: 'PT1H', aggregation: 'avg', filter: { labels: { queue: 'high' } } }, 3600, fleet],
      // Not whole hours, or a percentile: always from the samples.
      [{ metrics: ['cpu_usage'], ...week, step: 'PT30M', aggregation: 'avg', group_by: 'agent' }, 1800, byAgent],
      [{ metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'p50' }, 3600, fleet],
      [{ metrics: ['cpu_usage'], ...week, step: 'PT3H', aggregation: 'p95', group_by: 'platform' }, 10800, byPlatform],
      [{ metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'p99', filter: { agent_ids: [a.id, b.id] } }, 3600, fleet],
      [{ metrics: ['cpu_usage'], from: at(20), to: at(100), step: 900, aggregation: 'avg', group_by: 'platform' }, 900, byPlatform],
    ];
    for (const [body, step, groupOf] of cases) await expectAnswer(body, step, groupOf);

    // A spot check of the reference itself: linux CPU in the first hour is a's 10, 20 and b's 40, 41.
    const first = await query({ metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'avg', group_by: 'platform' });
    expect(first.body.data.series[0]).toMatchObject({ metric: 'cpu_usage', group: 'linux', group_name: 'linux' });
    expect(first.body.data.series[0].points[0]).toEqual({ at: at(0), value: 27.75, samples: 4 });

    // Rolled up: the same answers, now read from the rollups.
    expect(await rollUpMarked(server.database.db)).toBeGreaterThan(0);
    const rollups = await server.database.db.selectFrom('agent_metric_rollups').select(['agent_id', 'samples']).where('name', '=', 'cpu_usage').where('agent_id', '=', a.id).execute();
    expect(rollups.map((r) => r.samples).sort()).toEqual([1, 1, 2]);
    expect(await server.database.db.selectFrom('agent_metric_rollup_marks').select('name').execute()).toEqual([]);
    for (const [body, step, groupOf] of cases) await expectAnswer(body, step, groupOf);

    // A late sample in a rolled-up hour counts at once (its hour is marked, so it is read from the samples) …
    await store([{ agent: c, name: 'cpu_usage', at: at(20), value: 5 }]);
    for (const [body, step, groupOf] of cases) await expectAnswer(body, step, groupOf);
    // … and after the next rollup too.
    expect(await rollUpMarked(server.database.db)).toBeGreaterThan(0);
    for (const [body, step, groupOf] of cases) await expectAnswer(body, step, groupOf);
  });

  it("answers only from the caller's teams' agents", async () => {
    const mine = await query({ metrics: ['cpu_usage', 'queue_depth'], ...week, step: 'PT1H', aggregation: 'max', group_by: 'agent' });
    expect(mine.status).toBe(200);
    const agents = new Set(mine.body.data.series.map((s: { group: string }) => s.group));
    expect(agents).toEqual(new Set([a.id, b.id, c.id]));
    // Naming another team's agent matches nothing; the other team sees only its own agent.
    const named = await query({ metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'max', filter: { agent_ids: [d.id] } });
    expect(named.body.data.series).toEqual([]);
    const theirs = await query({ metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'max', group_by: 'agent' }, outsider.token);
    expect(theirs.status).toBe(200);
    expect(theirs.body.data.series).toEqual([{ metric: 'cpu_usage', group: d.id, group_name: d.hostname, points: [{ at: at(0), value: 99, samples: 1 }] }]);
    // A group of another team filters to nothing.
    const otherGroup = await query({ metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'max', filter: { group_id: groupId } }, outsider.token);
    expect(otherGroup.body.data.series).toEqual([]);
  });

  it('refuses queries past the bounds with 422 and malformed ones with 400 or 422', async () => {
    const base: Query = { metrics: ['cpu_usage'], ...week, step: 'PT1H', aggregation: 'avg' };
    const tooLarge = async (body: unknown, field: string) => {
      const res = await query(body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.error.code).toBe('VAL_QUERY_TOO_LARGE');
      expect(res.body.error.details[0].field).toBe(field);
    };
    const days = (n: number) => new Date(BASE - n * 86_400_000).toISOString();
    await tooLarge({ ...base, from: days(LIMITS.query_max_range_days + 1), to: at(0), step: 'P1D' }, 'to');
    await tooLarge({ ...base, step: LIMITS.query_min_step_seconds - 1 }, 'step');
    await tooLarge({ ...base, step: 'PT59S' }, 'step');
    await tooLarge({ ...base, step: 'P2D' }, 'step');
    // 1-minute buckets over 8 days: more buckets than points an answer may hold.
    const buckets = Math.ceil((8 * 86_400) / 60);
    expect(buckets).toBeGreaterThan(LIMITS.query_max_points);
    await tooLarge({ ...base, from: days(8), to: at(0), step: 60 }, 'step');
    // Within every bound: answered.
    expect((await query({ ...base, from: days(LIMITS.query_max_range_days), to: at(0), step: 'P1D' })).status).toBe(200);

    const backwards = await query({ ...base, from: at(60), to: at(0) });
    expect(backwards.status).toBe(422);
    expect(backwards.body.error.details[0].field).toBe('to');
    for (const bad of [
      { ...base, metrics: [] },
      { ...base, metrics: ['Bad'] },
      { ...base, aggregation: 'median' },
      { ...base, group_by: 'hostname' },
      { ...base, group_by: 'label:Bad' },
      { ...base, step: '1h' },
      { ...base, step: 'P' },
      { ...base, filter: { agent_ids: ['not-a-uuid'] } },
      { ...base, unknown: true },
    ]) {
      expect((await query(bad)).status, JSON.stringify(bad)).toBe(422);
    }
  });

  it('needs agents:read, and is not audited', async () => {
    expect((await http(server.url, 'POST', '/api/v1/metrics/query', { json: { metrics: ['cpu_usage'], ...week, step: 60, aggregation: 'avg' } })).status).toBe(401);
    const before = await server.call('GET', '/api/v1/admin/audit?operation_id=queryMetrics');
    expect(before.status).toBe(200);
    expect(before.body.data).toEqual([]);
  });
});

describe('percentiles over long ranges', () => {
  // A percentile reads every raw sample of its range (the rollups cannot combine percentiles): past
  // `query_percentile_max_range_hours` it is refused at once with 422 naming `to`, before anything is read, so it
  // never runs into the database's time limit (503) however large the fleet; within the bound, and for the
  // aggregations the rollups answer over any range, it is answered.
  it('refuses p50/p95/p99 past the declared range with 422 at once, and answers within it', async () => {
    expect(LIMITS.query_percentile_max_range_hours).toBe(24);
    await report(await enrol('linux'), [{ name: 'cpu_usage', at: at(5), value: 42 }]);
    const to = new Date(BASE + HOUR).toISOString();
    const hoursBefore = (h: number) => new Date(BASE + HOUR - h * HOUR).toISOString();
    for (const aggregation of ['p50', 'p95', 'p99'] as const) {
      const started = Date.now();
      const week = await query({ metrics: ['cpu_usage'], from: hoursBefore(7 * 24), to, step: 'PT1H', aggregation });
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(week.status, week.text).toBe(422);
      expect(week.body.error.code).toBe('VAL_QUERY_TOO_LARGE');
      expect(week.body.error.details[0]).toMatchObject({ field: 'to', value: to });
      expect(week.body.error.message).toContain(`at most ${LIMITS.query_percentile_max_range_hours} hours`);
      // Just past the bound, refused; exactly at it, answered.
      expect((await query({ metrics: ['cpu_usage'], from: new Date(Date.parse(hoursBefore(24)) - 60_000).toISOString(), to, step: 'PT1H', aggregation })).status).toBe(422);
      const day = await query({ metrics: ['cpu_usage'], from: hoursBefore(24), to, step: 'PT1H', aggregation });
      expect(day.status, day.text).toBe(200);
    }
    // The aggregations the rollups answer are not bounded so.
    const avg = await query({ metrics: ['cpu_usage'], from: hoursBefore(7 * 24), to, step: 'PT1H', aggregation: 'avg' });
    expect(avg.status, avg.text).toBe(200);
  });
});
