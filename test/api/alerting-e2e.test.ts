// The demo of issue 14's "Done means", scripted, over HTTP on the real PostgreSQL and Redis: simulated hosts
// (server/demo/simulated-fleet.ts, what the embedded demo runs; `npm run agent:sim -- --busy-agents N` does the same
// from scripts/sim) enrol and report their CPU through the agent protocol, one of them busy. A CPU rule fires ONCE
// for the busy host — one alert, one Slack message (a Slack-compatible receiver on loopback), one email (a real SMTP
// server on loopback) however many samples and evaluations follow — and a browser-style WebSocket client subscribed
// to `alerts` receives it. A second busy host under a silenced rule raises an alert that is listed but notifies no
// one. When the load drops, both alerts resolve by themselves; the unsilenced one notifies its resolution.
// The evaluation interval is the default 10 s: what fires within seconds does so because reports nudge their rules.
import { randomUUID } from 'node:crypto';
import { startMailSink, type MailSink } from '../support/smtp-server.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../server/demo/simulated-fleet.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually, sleep, startReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { TestSocket } from '../support/websocket.ts';

const CHANNELS = '/api/v1/metrics/alerts/notifications';
const SILENCES = '/api/v1/metrics/alerts/silences';
const RULES = '/api/v1/metrics/alerts/rules';

let server: TestServer;
let receiver: WebhookReceiver;
let smtp: MailSink | undefined;
let fleet: Fleet | undefined;
let socket: TestSocket | undefined;

beforeAll(async () => {
  smtp = await startMailSink();
  receiver = await startReceiver();
  server = await startTestServer({
    OUTBOX_POLL_MS: '50',
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_DELIVERY: JSON.stringify({ timeout_seconds: 2, max_attempts: 3, base_seconds: 0.05, max_seconds: 0.2 }),
    SMTP_URL: smtp.url,
    SMTP_FROM: 'Opsdeck <alerts@opsdeck.test>',
  });
}, 60_000);
afterAll(async () => {
  socket?.close();
  await fleet?.stop();
  await server?.close();
  await receiver?.close();
  await smtp?.close();
});

const create = async (path: string, json: unknown) => {
  const res = await server.call('POST', path, { json });
  expect(res.status, res.text).toBe(201);
  return res.body.data;
};
type Alert = { id: string; rule_id: string | null; agent_id: string | null; status: string };
const alertsOf = async (ruleId: string) => ((await server.call('GET', '/api/v1/alerts?limit=100')).body.data as Alert[]).filter((a) => a.rule_id === ruleId);
const slackTexts = (path: string) => receiver.received(path).map((r) => (JSON.parse(r.body) as { text: string }).text);

describe('alerting, end to end with simulated agents', () => {
  it('fires once for a busy host (Slack, email, WebSocket), stays quiet under a silence, and resolves when the load drops', async () => {
    const tag = randomUUID().slice(0, 8);
    const slackPath = `/slack/${tag}`;
    const oncall = `oncall-${tag}@example.com`;
    await create(CHANNELS, { name: '#ops', kind: 'slack', slack_url: `${receiver.url}${slackPath}`, min_severity: 'warning', label_matchers: { tag } });
    await create(CHANNELS, { name: 'On call', kind: 'email', email_to: [oncall], label_matchers: { tag } });
    await create(SILENCES, { ends_at: new Date(Date.now() + 3_600_000).toISOString(), matchers: { tag, service: 'db' }, comment: 'db maintenance' });

    // Three simulated hosts reporting every 300 ms; the first one busy.
    const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'simulated fleet' } })).body.data.secret as string;
    fleet = await startFleet({ baseUrl: server.url, enrollmentToken: token, count: 3, heartbeatMs: 300, taskMs: 200, prefix: `e2e-${tag}`, busy: 1 });
    const [web, db, quiet] = fleet.hosts as [(typeof fleet.hosts)[number], (typeof fleet.hosts)[number], (typeof fleet.hosts)[number]];

    socket = await TestSocket.open(server.url, server.adminToken);
    socket.send({ type: 'subscribe', channels: ['alerts'] });
    await socket.next('subscribed');

    const cpu = (name: string, agentId: string | undefined, service: string) => ({
      name,
      metric: 'cpu_usage',
      scope: agentId ? { agent_id: agentId } : {},
      condition: { aggregation: 'avg', window_seconds: 5, operator: '>', threshold: 90 },
      for_seconds: 1,
      severity: 'critical',
      labels: { tag, service },
      description_template: 'CPU {{value}}% on {{agent.hostname}}',
    });
    const webRule = await create(RULES, cpu(`Web CPU ${tag}`, web.agentId, 'web'));
    // A team-wide rule on the quiet host's own CPU would never fire: the quiet host is watched by a rule of its own.
    const quietRule = await create(RULES, cpu(`Quiet CPU ${tag}`, quiet.agentId, 'web'));
    const dbRule = await create(RULES, cpu(`DB CPU ${tag}`, db.agentId, 'db'));

    const [fired] = await eventually(async () => {
      const found = await alertsOf(webRule.id);
      return found.length > 0 ? found : undefined;
    }, 15_000, 'the web alert to fire');
    expect(fired).toMatchObject({ agent_id: web.agentId, status: 'open' });
    const pushed = await socket.eventAbout(fired!.id, 'alert.triggered', 10_000);
    expect(pushed).toMatchObject({ channel: 'alerts', event: 'alert.triggered', data: { team_id: server.teamId, data: { id: fired!.id, rule_id: webRule.id } } });
    await receiver.waitFor(slackPath, 1);
    await eventually(async () => (smtp!.mails.some((m) => m.to.includes(oncall)) ? true : undefined), 10_000, 'the email');

    // The busy host keeps reporting and the rule keeps being evaluated: still one alert, one message, one email.
    db.cpuProfile = 'busy';
    await sleep(3_000);
    expect(await alertsOf(webRule.id)).toHaveLength(1);
    expect(slackTexts(slackPath)).toHaveLength(1);
    expect(slackTexts(slackPath)[0]).toContain(`[FIRING] [CRITICAL] Web CPU ${tag}`);
    expect(slackTexts(slackPath)[0]).toMatch(/CPU 9\d(\.\d+)?% on e2e-/);
    expect(smtp!.mails.filter((m) => m.to.includes(oncall))).toHaveLength(1);
    expect(socket.events().filter((m) => m.event === 'alert.triggered' && m.data.data.id === fired!.id)).toHaveLength(1);

    // The db host is busy too, under a silenced rule: its alert is raised and listed, and nobody is told.
    const [silenced] = await eventually(async () => {
      const found = await alertsOf(dbRule.id);
      return found.length > 0 ? found : undefined;
    }, 15_000, 'the silenced alert to be raised');
    expect(silenced).toMatchObject({ agent_id: db.agentId, status: 'open' });
    expect((await server.call('GET', `/api/v1/alerts/${silenced!.id}`)).status).toBe(200);
    await sleep(1_500);
    expect(slackTexts(slackPath).some((t) => t.includes(`DB CPU ${tag}`))).toBe(false);
    expect(smtp!.mails.some((m) => m.text.includes(`DB CPU ${tag}`))).toBe(false);
    // The quiet host never fired.
    expect(await alertsOf(quietRule.id)).toEqual([]);

    // The load drops: both alerts resolve by themselves; only the unsilenced one says so.
    web.cpuProfile = 'normal';
    db.cpuProfile = 'normal';
    await eventually(async () => ((await alertsOf(webRule.id))[0]?.status === 'resolved' && (await alertsOf(dbRule.id))[0]?.status === 'resolved' ? true : undefined), 20_000, 'both alerts to resolve');
    await receiver.waitFor(slackPath, 2);
    expect(slackTexts(slackPath)[1]).toContain(`[RESOLVED] [CRITICAL] Web CPU ${tag}`);
    await eventually(async () => (smtp!.mails.filter((m) => m.to.includes(oncall)).length === 2 ? true : undefined), 10_000, 'the resolution email');
    await socket.eventAbout(fired!.id, 'alert.resolved', 10_000);
    await sleep(1_000);
    expect(slackTexts(slackPath)).toHaveLength(2);
    expect(smtp!.mails.some((m) => m.text.includes(`DB CPU ${tag}`))).toBe(false);
    expect(await alertsOf(webRule.id)).toHaveLength(1);
    expect(fleet.totals().errors).toBe(0);
  }, 90_000);
});
