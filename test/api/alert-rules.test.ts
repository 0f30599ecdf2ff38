// Alert rules over HTTP on the real backends: CRUD with team scope, If-Match and 422s; and evaluation on a
// short interval: an agent reporting high CPU through the agent protocol goes pending, then firing (one
// alert carrying the rule and its labels, however many samples and evaluations), and reporting low CPU
// resolves that same alert; turning a rule off resolves its firing alerts; no data fires when asked to.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../support/http.ts';
import { bearer, createOutsider, type TestUser } from '../support/identity.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually, sleep } from '../support/webhook-receiver.ts';
import { enrolAgent } from '../support/agents.ts';

const INTERVAL_MS = 200;
const RULES = '/api/v1/metrics/alerts/rules';
let server: TestServer;
let outsider: TestUser;

beforeAll(async () => {
  server = await startTestServer({ ALERT_EVALUATION_INTERVAL_MS: String(INTERVAL_MS), OUTBOX_POLL_MS: '50' });
  ({ outsider } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
});

const enrol = () => enrolAgent(server, 'alert rule tests');
const report = async (key: string, value: number) => {
  const res = await http(server.url, 'POST', '/api/v1/agent/metrics', { headers: { 'x-api-key': key }, json: { samples: [{ name: 'cpu_usage', at: new Date().toISOString(), value }] } });
  expect(res.status, res.text).toBeLessThan(300);
};
const alertsOfRule = async (ruleId: string, agentId: string) =>
  ((await server.call('GET', `/api/v1/alerts?agent_id=${agentId}&limit=100`)).body.data as Array<{ id: string; rule_id: string | null; status: string }>).filter((a) => a.rule_id === ruleId);

const cpuRule = (agentId: string, extra: Record<string, unknown> = {}) => ({
  name: 'CPU above 90%',
  metric: 'cpu_usage',
  scope: { agent_id: agentId },
  condition: { aggregation: 'avg', window_seconds: 5, operator: '>', threshold: 90 },
  for_seconds: 1,
  severity: 'critical',
  labels: { service: 'web' },
  description_template: 'CPU {{value}}% on {{agent.hostname}} ({{labels.service}}, {{nope}})',
  ...extra,
});

describe('alert rules: CRUD', () => {
  it('creates (201 + Location), reads with an ETag, patches with If-Match, lists, and deletes', async () => {
    const { agent } = await enrol();
    const created = await server.call('POST', RULES, { json: cpuRule(agent.id) });
    expect(created.status, created.text).toBe(201);
    const rule = created.body.data;
    expect(created.headers.get('location')).toBe(`${RULES}/${rule.id}`);
    expect(rule).toMatchObject({ team_id: server.teamId, enabled: true, no_data_seconds: null, condition: { aggregation: 'avg', operator: '>' }, labels: { service: 'web' } });
    const read = await server.call('GET', `${RULES}/${rule.id}`);
    expect(read.body.data).toEqual(rule);
    const etag = read.headers.get('etag')!;
    expect(etag).toBeTruthy();
    const stale = await server.call('PATCH', `${RULES}/${rule.id}`, { json: { severity: 'warning' }, headers: { 'if-match': '"stale"' } });
    expect(stale.status).toBe(412);
    const patched = await server.call('PATCH', `${RULES}/${rule.id}`, { json: { severity: 'warning', enabled: false }, headers: { 'if-match': etag } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.data).toMatchObject({ severity: 'warning', enabled: false, name: rule.name });
    const list = await server.call('GET', `${RULES}?limit=100`);
    expect(list.body.data.map((r: { id: string }) => r.id)).toContain(rule.id);
    expect((await server.call('DELETE', `${RULES}/${rule.id}`)).status).toBe(204);
    expect((await server.call('GET', `${RULES}/${rule.id}`)).status).toBe(404);
  });

  it('answers another team’s rule with 404, and refuses bad bodies with 422', async () => {
    const { agent } = await enrol();
    const rule = (await server.call('POST', RULES, { json: cpuRule(agent.id) })).body.data;
    const theirs = (method: string, json?: unknown) => http(server.url, method, `${RULES}/${rule.id}`, { headers: bearer(outsider.token), json });
    expect((await theirs('GET')).status).toBe(404);
    expect((await theirs('PATCH', { enabled: false })).status).toBe(404);
    expect((await theirs('DELETE')).status).toBe(404);
    const theirList = await http(server.url, 'GET', RULES, { headers: bearer(outsider.token) });
    expect(theirList.body.data.map((r: { id: string }) => r.id)).not.toContain(rule.id);
    // Their agent in our rule's scope: 404 naming the field.
    const foreign = await server.call('POST', RULES, { json: cpuRule(randomUUID()) });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.details[0].field).toBe('scope.agent_id');
    for (const bad of [
      cpuRule(agent.id, { condition: { aggregation: 'median', window_seconds: 5, operator: '>', threshold: 1 } }),
      cpuRule(agent.id, { condition: { aggregation: 'avg', window_seconds: 1, operator: '>', threshold: 1 } }),
      cpuRule(agent.id, { condition: { aggregation: 'avg', window_seconds: 5, operator: '=~', threshold: 1 } }),
      cpuRule(agent.id, { severity: 'fatal' }),
      cpuRule(agent.id, { labels: { 'Bad-Name': 'x' } }),
      cpuRule(agent.id, { for_seconds: -1 }),
      cpuRule(agent.id, { no_data_seconds: 1 }),
      { name: 'x', metric: 'cpu_usage', severity: 'info' },
    ]) {
      const res = await server.call('POST', RULES, { json: bad });
      expect(res.status, JSON.stringify(bad)).toBe(422);
    }
  });
});

describe('alert rules: evaluation', () => {
  it('goes pending → firing (one alert) → resolved as CPU goes high and low again', async () => {
    const { agent, key } = await enrol();
    await report(key, 97);
    const rule = (await server.call('POST', RULES, { json: cpuRule(agent.id, { for_seconds: 2 }) })).body.data;
    // Pending first: no alert before `for_seconds` has passed.
    await sleep(4 * INTERVAL_MS);
    expect(await alertsOfRule(rule.id, agent.id)).toEqual([]);
    // Keeps reporting: one firing alert, not one per sample or evaluation.
    for (let i = 0; i < 10; i += 1) {
      await report(key, 95 + (i % 3));
      await sleep(INTERVAL_MS);
    }
    const firing = await eventually(async () => {
      const found = await alertsOfRule(rule.id, agent.id);
      return found.length > 0 ? found : undefined;
    });
    await sleep(5 * INTERVAL_MS);
    const alerts = await alertsOfRule(rule.id, agent.id);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ id: firing[0]!.id, status: 'open', severity: 'critical', title: 'CPU above 90%', labels: { service: 'web' }, source: 'alert-rule' });
    expect((alerts[0] as unknown as { message: string }).message).toMatch(new RegExp(`^CPU 9[5-7](\\.\\d+)?% on ${agent.hostname.replace(/\./g, '\\.')} \\(web, \\{\\{nope\\}\\}\\)$`));
    // Low CPU for a whole window: the same alert resolves itself.
    const until = Date.now() + 6_500;
    while (Date.now() < until) {
      await report(key, 10);
      await sleep(500);
    }
    const resolved = await eventually(async () => {
      const found = await alertsOfRule(rule.id, agent.id);
      return found[0]?.status === 'resolved' ? found : undefined;
    });
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ id: firing[0]!.id, resolved_by: null });
  });

  it('fires on no data when asked to, and turning the rule off resolves its alert', async () => {
    const { agent } = await enrol();
    const rule = (await server.call('POST', RULES, { json: cpuRule(agent.id, { for_seconds: 0, no_data_seconds: 5 }) })).body.data;
    const firing = await eventually(async () => {
      const found = await alertsOfRule(rule.id, agent.id);
      return found.length > 0 ? found : undefined;
    }, 15_000);
    expect((firing[0] as unknown as { message: string }).message).toContain('CPU no data%');
    expect((await server.call('PATCH', `${RULES}/${rule.id}`, { json: { enabled: false } })).status).toBe(200);
    expect((await alertsOfRule(rule.id, agent.id))[0]!.status).toBe('resolved');
  }, 30_000);
});
