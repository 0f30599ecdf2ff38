// Alert notifications over HTTP on the real backends, with a Slack-compatible receiver and a real SMTP server
// (smtp-server) on loopback: an agent reporting high CPU fires a rule, whose alert notifies the Slack channel
// and the email channel once each; a silence mutes a second rule's notifications while its alert is still
// raised and listed; low CPU resolves the alert and notifies that too; a test-send reaches one channel and a
// failed attempt is retried; channels and silences are team-scoped, their bodies checked, the Slack URL never shown.
import { randomUUID } from 'node:crypto';
import { startMailSink, type MailSink } from '../support/smtp-server.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../support/http.ts';
import { bearer, createOutsider, type TestUser } from '../support/identity.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually, sleep, startReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { enrolAgent } from '../support/agents.ts';

const CHANNELS = '/api/v1/metrics/alerts/notifications';
const SILENCES = '/api/v1/metrics/alerts/silences';
const RULES = '/api/v1/metrics/alerts/rules';
const POLICY = { timeout_seconds: 2, max_attempts: 3, base_seconds: 0.05, max_seconds: 0.2 };

let server: TestServer;
let receiver: WebhookReceiver;
let smtp: MailSink | undefined;
let outsider: TestUser;

beforeAll(async () => {
  smtp = await startMailSink();
  receiver = await startReceiver();
  server = await startTestServer({
    ALERT_EVALUATION_INTERVAL_MS: '200',
    OUTBOX_POLL_MS: '50',
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_DELIVERY: JSON.stringify(POLICY),
    SMTP_URL: smtp.url,
    SMTP_FROM: 'Opsdeck <alerts@opsdeck.test>',
  });
  ({ outsider } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
  await smtp?.close();
});

const enrol = () => enrolAgent(server, 'notification tests');
const report = async (key: string, value: number) => {
  const res = await http(server.url, 'POST', '/api/v1/agent/metrics', { headers: { 'x-api-key': key }, json: { samples: [{ name: 'cpu_usage', at: new Date().toISOString(), value }] } });
  expect(res.status, res.text).toBeLessThan(300);
};
const create = async (path: string, json: unknown) => {
  const res = await server.call('POST', path, { json });
  expect(res.status, res.text).toBe(201);
  return res.body.data;
};
const ruleAlerts = async (ruleId: string) =>
  ((await server.call('GET', '/api/v1/alerts?limit=100')).body.data as Array<{ id: string; rule_id: string | null; status: string }>).filter((a) => a.rule_id === ruleId);
const slackTexts = (path: string) => receiver.received(path).map((r) => JSON.parse(r.body) as { text: string; blocks: unknown[] });

describe('notifications of rule alerts', () => {
  it('notifies Slack and email once per change, stays quiet under a silence, and notifies the resolution', async () => {
    const tag = randomUUID().slice(0, 8);
    const slackPath = `/slack/${tag}`;
    const web = await enrol();
    const db = await enrol();
    const slack = await create(CHANNELS, { name: '#ops', kind: 'slack', slack_url: `${receiver.url}${slackPath}`, min_severity: 'warning', label_matchers: { tag } });
    expect(slack).toMatchObject({ kind: 'slack', slack_url_hint: expect.stringMatching(/^…/), webhook_id: null, email_to: null });
    expect(JSON.stringify(slack)).not.toContain(receiver.url);
    const email = await create(CHANNELS, { name: 'On call', kind: 'email', email_to: [`oncall-${tag}@example.com`], label_matchers: { tag } });
    await create(SILENCES, { ends_at: new Date(Date.now() + 3_600_000).toISOString(), matchers: { tag, service: 'db' }, comment: 'db maintenance' });

    const cpu = (name: string, agentId: string, service: string) => ({
      name,
      metric: 'cpu_usage',
      scope: { agent_id: agentId },
      condition: { aggregation: 'max', window_seconds: 5, operator: '>', threshold: 90 },
      severity: 'critical',
      labels: { tag, service },
      description_template: 'CPU {{value}}% on {{agent.hostname}}',
    });
    const webRule = await create(RULES, cpu(`Web CPU ${tag}`, web.agent.id, 'web'));
    const dbRule = await create(RULES, cpu(`DB CPU ${tag}`, db.agent.id, 'db'));
    for (let i = 0; i < 5; i += 1) {
      await report(web.key, 97);
      await report(db.key, 98);
      await sleep(200);
    }
    // Both alerts are raised and listed, the silenced one too.
    await eventually(async () => ((await ruleAlerts(webRule.id)).length === 1 && (await ruleAlerts(dbRule.id)).length === 1 ? true : undefined));
    await receiver.waitFor(slackPath, 1);
    await eventually(async () => (smtp!.mails.some((m) => m.to.includes(`oncall-${tag}@example.com`)) ? true : undefined));
    await sleep(1_000);
    const texts = slackTexts(slackPath);
    expect(texts).toHaveLength(1);
    expect(texts[0]!.text).toContain(`[FIRING] [CRITICAL] Web CPU ${tag}`);
    expect(texts[0]!.text).toContain(`CPU 97% on ${web.agent.hostname}`);
    expect(texts[0]!.blocks).toHaveLength(1);
    const mailed = smtp!.mails.filter((m) => m.to.includes(`oncall-${tag}@example.com`));
    expect(mailed).toHaveLength(1);
    expect(mailed[0]!.text).toContain(`Web CPU ${tag}`);
    expect(smtp!.mails.some((m) => m.text.includes(`DB CPU ${tag}`))).toBe(false);

    // Low CPU for a whole window: the web alert resolves itself and says so.
    const until = Date.now() + 6_000;
    while (Date.now() < until) {
      await report(web.key, 5);
      await sleep(400);
    }
    await eventually(async () => ((await ruleAlerts(webRule.id))[0]?.status === 'resolved' ? true : undefined));
    await receiver.waitFor(slackPath, 2);
    expect(slackTexts(slackPath)[1]!.text).toContain(`[RESOLVED] [CRITICAL] Web CPU ${tag}`);
    await eventually(async () => (smtp!.mails.filter((m) => m.to.includes(`oncall-${tag}@example.com`)).length === 2 ? true : undefined));
    expect((await server.call('GET', `${CHANNELS}/${email.id}`)).body.data.email_to).toEqual([`oncall-${tag}@example.com`]);
  }, 40_000);
});

describe('channels and silences', () => {
  it('test-sends to one channel (202), retrying a failed attempt', async () => {
    const path = `/slack/test-${randomUUID().slice(0, 8)}`;
    receiver.script(path, [500, 200]);
    const channel = await create(CHANNELS, { name: 'test', kind: 'slack', slack_url: `${receiver.url}${path}` });
    const res = await server.call('POST', `${CHANNELS}/${channel.id}/test`);
    expect(res.status, res.text).toBe(202);
    // A test notification has no resource of its own to follow (it is delivery `delivery_id`): no Location.
    expect(res.headers.get('location')).toBeNull();
    expect(res.body.data).toMatchObject({ channel_id: channel.id, status: 'pending' });
    const [first, second] = await receiver.waitFor(path, 2);
    expect(JSON.parse(first!.body).text).toContain('test notification');
    expect(second!.body).toBe(first!.body);
    const off = await server.call('PATCH', `${CHANNELS}/${channel.id}`, { json: { enabled: false } });
    expect(off.body.data.enabled).toBe(false);
    expect((await server.call('POST', `${CHANNELS}/${channel.id}/test`)).status).toBe(409);
  });

  it('routes a webhook channel through its webhook’s signed deliveries', async () => {
    const path = `/hook/${randomUUID().slice(0, 8)}`;
    const webhook = (await server.call('POST', '/api/v1/webhooks', { json: { url: `${receiver.url}${path}`, events: ['task.failed'] } })).body.data;
    const channel = await create(CHANNELS, { name: 'hook', kind: 'webhook', webhook_id: webhook.id });
    expect((await server.call('POST', `${CHANNELS}/${channel.id}/test`)).status).toBe(202);
    const [delivered] = await receiver.waitFor(path, 1);
    expect(delivered!.headers['x-opsdeck-event']).toBe('webhook.ping');
    expect(delivered!.headers['x-opsdeck-signature']).toMatch(/^sha256=/);
  });

  it('answers another team’s channel or silence with 404, and If-Match that moved on with 412', async () => {
    const channel = await create(CHANNELS, { name: 'mine', kind: 'email', email_to: ['me@example.com'] });
    const silence = await create(SILENCES, { ends_at: new Date(Date.now() + 60_000).toISOString(), matchers: { service: 'x' }, comment: 'mine' });
    expect(silence.created_by).toBeTruthy();
    for (const path of [`${CHANNELS}/${channel.id}`, `${SILENCES}/${silence.id}`]) {
      const change = path.startsWith(CHANNELS) ? { name: 'theirs' } : { comment: 'theirs' };
      const as = (method: string, json?: unknown) => http(server.url, method, path, { headers: bearer(outsider.token), json });
      expect((await as('GET')).status).toBe(404);
      expect((await as('PATCH', change)).status).toBe(404);
      expect((await as('DELETE')).status).toBe(404);
      expect((await server.call('PATCH', path, { json: change, headers: { 'if-match': '"stale"' } })).status).toBe(412);
      const etag = (await server.call('GET', path)).headers.get('etag')!;
      expect((await server.call('DELETE', path, { headers: { 'if-match': etag } })).status).toBe(204);
    }
    expect((await http(server.url, 'POST', `${CHANNELS}/${channel.id}/test`, { headers: bearer(outsider.token) })).status).toBe(404);
  });

  it('refuses bad bodies with 422', async () => {
    const future = new Date(Date.now() + 60_000).toISOString();
    for (const [path, body] of [
      [CHANNELS, { name: 'x', kind: 'pager' }],
      [CHANNELS, { name: 'x', kind: 'slack' }],
      [CHANNELS, { name: 'x', kind: 'slack', slack_url: 'https://hooks.example.com/x', email_to: ['a@example.com'] }],
      [CHANNELS, { name: 'x', kind: 'email', email_to: ['not an address'] }],
      [CHANNELS, { name: 'x', kind: 'email', email_to: ['a@example.com'], min_severity: 'fatal' }],
      [SILENCES, { ends_at: future, matchers: {}, comment: 'no matchers' }],
      [SILENCES, { starts_at: future, ends_at: new Date().toISOString(), matchers: { a: 'b' }, comment: 'backwards' }],
      [SILENCES, { matchers: { a: 'b' }, comment: 'no end' }],
    ] as const) {
      const res = await server.call('POST', path, { json: body });
      expect(res.status, `${path} ${JSON.stringify(body)}: ${res.text}`).toBe(422);
    }
    const missing = await server.call('POST', CHANNELS, { json: { name: 'x', kind: 'webhook', webhook_id: randomUUID() } });
    expect(missing.status).toBe(404);
  });
});

describe('a webhook that is also a notification channel', () => {
  // It receives each alert event once: its subscription's delivery when it subscribes to the event type (the
  // channel adds none), the channel's when it does not; two channels routed to one webhook deliver once. (Alerts
  // raised over HTTP carry no labels: these channels match every alert of the team; each test counts its own.)
  const raise = async (tag: string) => {
    const res = await server.call('POST', '/api/v1/alerts', { json: { title: `Double ${tag}`, severity: 'critical' } });
    expect(res.status, res.text).toBe(201);
    return res.body.data as { id: string };
  };
  const deliveriesOf = (path: string, alertId: string) =>
    receiver.received(path).filter((r) => (JSON.parse(r.body) as { data: { id: string } }).data.id === alertId);

  it('delivers once when the webhook also subscribes to the alert events', async () => {
    const tag = randomUUID().slice(0, 8);
    const path = `/hook/both-${tag}`;
    const webhook = (await server.call('POST', '/api/v1/webhooks', { json: { url: `${receiver.url}${path}`, events: ['alert.triggered', 'alert.resolved'] } })).body.data;
    await create(CHANNELS, { name: `hook ${tag}`, kind: 'webhook', webhook_id: webhook.id });
    await create(CHANNELS, { name: `hook again ${tag}`, kind: 'webhook', webhook_id: webhook.id });
    const alert = await raise(tag);
    await eventually(async () => (deliveriesOf(path, alert.id).length > 0 ? true : undefined));
    await sleep(1_000);
    const delivered = deliveriesOf(path, alert.id);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.headers['x-opsdeck-event']).toBe('alert.triggered');
    const recorded = await server.call('GET', `/api/v1/webhooks/${webhook.id}/deliveries?limit=100`);
    expect(recorded.body.data.filter((d: { event: string }) => d.event === 'alert.triggered')).toHaveLength(1);
  });

  it('delivers once through the channel when the webhook does not subscribe to them', async () => {
    const tag = randomUUID().slice(0, 8);
    const path = `/hook/channel-${tag}`;
    const webhook = (await server.call('POST', '/api/v1/webhooks', { json: { url: `${receiver.url}${path}`, events: ['task.failed'] } })).body.data;
    await create(CHANNELS, { name: `hook ${tag}`, kind: 'webhook', webhook_id: webhook.id });
    await create(CHANNELS, { name: `hook twice ${tag}`, kind: 'webhook', webhook_id: webhook.id });
    const alert = await raise(tag);
    await eventually(async () => (deliveriesOf(path, alert.id).length > 0 ? true : undefined));
    await sleep(1_000);
    const delivered = deliveriesOf(path, alert.id);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.headers['x-opsdeck-event']).toBe('alert.triggered');
  });
});
