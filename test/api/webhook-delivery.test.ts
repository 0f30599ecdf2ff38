// Webhook deliveries end to end, to a real receiver on 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE_TARGETS=true) with
// a policy shortened by WEBHOOK_DELIVERY: signed requests, retries with their attempts recorded, timeouts,
// a webhook turned off after failures in a row, redelivery of the same event, and events of the services
// (an alert raised → `alert.triggered`).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryPolicy } from '../../server/modules/webhooks/webhooks.policy.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually, signatureValid, sleep, startReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const POLICY = {
  timeout_seconds: 1,
  max_attempts: 3,
  base_seconds: 0.05,
  max_seconds: 0.2,
  disable_after_consecutive_failures: 4,
  response_excerpt_bytes: 64,
};

let server: TestServer;
let receiver: WebhookReceiver;

beforeAll(async () => {
  server = await startTestServer({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_DELIVERY: JSON.stringify(POLICY) });
  receiver = await startReceiver();
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

/** A webhook to its own path of the receiver. */
async function hook(events: string[] = ['alert.triggered'], extra: Record<string, unknown> = {}) {
  const path = `/hook-${randomUUID()}`;
  const res = await server.call('POST', '/api/v1/webhooks', { json: { url: `${receiver.url}${path}`, events, ...extra } });
  expect(res.status, res.text).toBe(201);
  return { ...res.body.data, path } as { id: string; secret: string; path: string; url: string };
}

const ping = async (webhookId: string) => {
  const res = await server.call('POST', `/api/v1/webhooks/${webhookId}/ping`);
  expect(res.status, res.text).toBe(202);
  return res.body.data as { id: string; event_id: string };
};

const delivery = (webhookId: string, id: string) => server.call('GET', `/api/v1/webhooks/${webhookId}/deliveries/${id}`).then((r) => r.body.data);

/** The delivery once it is no longer pending. */
const settled = (webhookId: string, id: string, timeoutMs = 10_000) =>
  eventually(async () => {
    const d = await delivery(webhookId, id);
    return d.status === 'pending' ? undefined : d;
  }, timeoutMs, `delivery ${id} to settle`);

describe('a delivery', () => {
  it('is a signed POST with the event, delivery, timestamp and signature headers, and is recorded', async () => {
    const webhook = await hook();
    const queued = await ping(webhook.id);
    const [request] = await receiver.waitFor(webhook.path, 1);
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toMatch(/^Opsdeck-Webhooks\/\d+\.\d+\.\d+/);
    expect(request!.headers['x-opsdeck-event']).toBe('webhook.ping');
    expect(request!.headers['x-opsdeck-delivery']).toBe(queued.id);
    const timestamp = Number(request!.headers['x-opsdeck-timestamp']);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(30);
    expect(request!.headers['x-opsdeck-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(await signatureValid(webhook.secret, request!)).toBe(true);
    expect(await signatureValid('another-secret-entirely-xx', request!)).toBe(false);
    expect(await signatureValid(webhook.secret, { ...request!, body: request!.body.replace('Ping', 'Pong') })).toBe(false);

    const body = JSON.parse(request!.body);
    expect(body).toEqual({
      id: queued.event_id,
      event: 'webhook.ping',
      timestamp: expect.stringMatching(/Z$/),
      team_id: server.teamId,
      data: { webhook_id: webhook.id, message: expect.any(String) },
    });
    const done = await settled(webhook.id, queued.id);
    expect(done).toMatchObject({ status: 'succeeded', attempt_count: 1, last_status_code: 200, next_attempt_at: null });
    expect(done.payload).toEqual(body);
    expect(done.attempts).toEqual([
      { number: 1, attempted_at: expect.stringMatching(/Z$/), status_code: 200, latency_ms: expect.any(Number), response_excerpt: '{"ok":true}', error: null, succeeded: true },
    ]);
    const after = (await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).body.data;
    expect(after).toMatchObject({ consecutive_failures: 0, active: true });
    expect(after.last_delivery_at).toMatch(/Z$/);
  });

  it('is retried with backoff until it succeeds: 500, 500, 200 → one delivery, three attempts', async () => {
    const webhook = await hook();
    receiver.script(webhook.path, [500, { status: 500, body: 'x'.repeat(200) }, 200]);
    const queued = await ping(webhook.id);
    const requests = await receiver.waitFor(webhook.path, 3);
    // Every attempt of one delivery carries the same delivery id and body, each signed at its own time.
    expect(new Set(requests.map((r) => r.headers['x-opsdeck-delivery']))).toEqual(new Set([queued.id]));
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    for (const request of requests) expect(await signatureValid(webhook.secret, request)).toBe(true);
    const done = await settled(webhook.id, queued.id);
    expect(done).toMatchObject({ status: 'succeeded', attempt_count: 3, last_status_code: 200 });
    expect(done.attempts.map((a: { number: number; status_code: number; succeeded: boolean; error: null }) => [a.number, a.status_code, a.succeeded, a.error])).toEqual([
      [1, 500, false, null],
      [2, 500, false, null],
      [3, 200, true, null],
    ]);
    expect(done.attempts[0].response_excerpt).toBe('status 500 from the test receiver');
    expect(done.attempts[1].response_excerpt).toBe('x'.repeat(POLICY.response_excerpt_bytes));
    for (const attempt of done.attempts) expect(attempt.latency_ms).toBeGreaterThanOrEqual(0);
    expect((await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).body.data.consecutive_failures).toBe(0);
  });

  it('fails after max_attempts, each attempt recording a timeout when the endpoint hangs', async () => {
    const webhook = await hook();
    receiver.script(webhook.path, ['hang']);
    const queued = await ping(webhook.id);
    const done = await settled(webhook.id, queued.id, 15_000);
    expect(done).toMatchObject({ status: 'failed', attempt_count: POLICY.max_attempts, last_status_code: null, next_attempt_at: null });
    expect(done.completed_at).toMatch(/Z$/);
    for (const attempt of done.attempts) {
      expect(attempt).toMatchObject({ status_code: null, succeeded: false, response_excerpt: null, error: `timed out after ${POLICY.timeout_seconds * 1000} ms` });
      expect(attempt.latency_ms).toBeGreaterThanOrEqual(POLICY.timeout_seconds * 1000 - 10);
    }
    expect(receiver.received(webhook.path)).toHaveLength(POLICY.max_attempts);
    expect((await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).body.data).toMatchObject({ active: true, consecutive_failures: POLICY.max_attempts });
  });

  it('records a refused connection as an error without a status', async () => {
    const gone = await startReceiver();
    const url = `${gone.url}/gone`;
    await gone.close();
    const res = await server.call('POST', '/api/v1/webhooks', { json: { url, events: ['alert.triggered'] } });
    const queued = await ping(res.body.data.id);
    const done = await settled(res.body.data.id, queued.id);
    expect(done.status).toBe('failed');
    expect(done.attempts[0]).toMatchObject({ status_code: null, error: expect.stringMatching(/^connection refused by 127\.0\.0\.1:\d+$/) });
  });
});

describe('a slow endpoint', () => {
  it('holds at most max_in_flight_per_webhook attempts, and never holds up another webhook', async () => {
    const { max_in_flight_per_webhook: perWebhook } = deliveryPolicy(POLICY);
    const slow = await hook();
    receiver.script(slow.path, ['hang']);
    for (let i = 0; i < 3 * perWebhook; i += 1) await ping(slow.id);
    await receiver.waitFor(slow.path, perWebhook);
    await sleep(200);
    // The deliverer has 16 slots; the slow endpoint got only its share of them.
    expect(receiver.received(slow.path)).toHaveLength(perWebhook);

    const fast = await hook();
    const sent = Date.now();
    await ping(fast.id);
    await receiver.waitFor(fast.path, 1, POLICY.timeout_seconds * 1000);
    // Well before the slow attempts time out and free their slots.
    expect(Date.now() - sent).toBeLessThan((POLICY.timeout_seconds * 1000) / 2);
  });
});

describe('a webhook that keeps failing', () => {
  it(`is turned off after ${POLICY.disable_after_consecutive_failures} failures in a row, its pending deliveries fail, and pings are refused until it is on again`, async () => {
    const webhook = await hook();
    receiver.script(webhook.path, [503]);
    const first = await ping(webhook.id);
    expect(await settled(webhook.id, first.id)).toMatchObject({ status: 'failed', attempt_count: POLICY.max_attempts, last_status_code: 503 });
    // One more failure turns it off; the delivery it belongs to, still pending, fails with it.
    const second = await ping(webhook.id);
    await receiver.waitFor(webhook.path, POLICY.max_attempts + 1);
    const off = await eventually(async () => {
      const w = (await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).body.data;
      return w.active ? undefined : w;
    }, 10_000, 'the webhook to be turned off');
    expect(off).toMatchObject({ active: false, consecutive_failures: POLICY.disable_after_consecutive_failures });
    expect(off.disabled_reason).toBe(`disabled after ${POLICY.disable_after_consecutive_failures} failed attempts in a row; the last one: HTTP 503`);
    expect(off.disabled_at).toMatch(/Z$/);
    expect(await delivery(webhook.id, second.id)).toMatchObject({ status: 'failed', attempt_count: 1, next_attempt_at: null });

    const refused = await server.call('POST', `/api/v1/webhooks/${webhook.id}/ping`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('BIZ_WEBHOOK_DISABLED');
    expect((await server.call('POST', `/api/v1/webhooks/${webhook.id}/deliveries/${first.id}/redeliver`)).status).toBe(409);
    const disabledList = await server.call('GET', '/api/v1/webhooks?active=false&limit=100');
    expect(disabledList.body.data.map((w: { id: string }) => w.id)).toContain(webhook.id);
    const failedList = await server.call('GET', `/api/v1/webhooks/${webhook.id}/deliveries?status=failed`);
    expect(failedList.body.data.map((d: { id: string }) => d.id)).toEqual([second.id, first.id]);
    expect((await server.call('GET', `/api/v1/webhooks/${webhook.id}/deliveries?status=succeeded`)).body.data).toEqual([]);

    // Events are not queued for it while it is off.
    const sent = receiver.received(webhook.path).length;
    await server.call('POST', '/api/v1/alerts', { json: { title: 'While the webhook is off', severity: 'info' } });
    await sleep(600);
    expect(receiver.received(webhook.path)).toHaveLength(sent);

    receiver.script(webhook.path, [200]);
    const on = await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { active: true } });
    expect(on.body.data).toMatchObject({ active: true, disabled_reason: null, disabled_at: null, consecutive_failures: 0 });
    const third = await ping(webhook.id);
    expect(await settled(webhook.id, third.id)).toMatchObject({ status: 'succeeded' });
  });
});

describe('redelivery', () => {
  it('sends the same event again as a new delivery that points at the first', async () => {
    const webhook = await hook();
    const first = await ping(webhook.id);
    expect(await settled(webhook.id, first.id)).toMatchObject({ status: 'succeeded' });
    const res = await server.call('POST', `/api/v1/webhooks/${webhook.id}/deliveries/${first.id}/redeliver`);
    expect(res.status).toBe(202);
    const again = res.body.data;
    expect(res.headers.get('location')).toBe(`/api/v1/webhooks/${webhook.id}/deliveries/${again.id}`);
    expect(again).toMatchObject({ event_id: first.event_id, redelivery_of: first.id, status: 'pending', attempt_count: 0 });
    const requests = await receiver.waitFor(webhook.path, 2);
    expect(requests.map((r) => JSON.parse(r.body).id)).toEqual([first.event_id, first.event_id]);
    expect(requests.map((r) => r.headers['x-opsdeck-delivery'])).toEqual([first.id, again.id]);
    expect(JSON.parse(requests[1]!.body)).toEqual(JSON.parse(requests[0]!.body));
    expect(await signatureValid(webhook.secret, requests[1]!)).toBe(true);
    expect(await settled(webhook.id, again.id)).toMatchObject({ status: 'succeeded', redelivery_of: first.id });
    const listed = (await server.call('GET', `/api/v1/webhooks/${webhook.id}/deliveries`)).body.data;
    expect(listed.map((d: { id: string }) => d.id)).toEqual([again.id, first.id]);
  });

  it('signs with a rotated secret from the next delivery on', async () => {
    const webhook = await hook();
    const rotated = 'rotated-secret-0123456789abcdef';
    await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { secret: rotated } });
    await ping(webhook.id);
    const [request] = await receiver.waitFor(webhook.path, 1);
    expect(await signatureValid(rotated, request!)).toBe(true);
    expect(await signatureValid(webhook.secret, request!)).toBe(false);
  });
});

describe('events of the services', () => {
  it('delivers alert.triggered for a raised alert to the webhooks subscribed to it, and only to them', async () => {
    const subscribed = await hook(['alert.triggered', 'alert.resolved']);
    const other = await hook(['deployment.finished']);
    const raised = await server.call('POST', '/api/v1/alerts', { json: { title: `Disk full ${randomUUID()}`, severity: 'critical' } });
    expect(raised.status).toBe(201);
    const alert = raised.body.data;
    const [request] = await receiver.waitFor(subscribed.path, 1);
    expect(request!.headers['x-opsdeck-event']).toBe('alert.triggered');
    expect(await signatureValid(subscribed.secret, request!)).toBe(true);
    const body = JSON.parse(request!.body);
    expect(body).toMatchObject({ event: 'alert.triggered', team_id: server.teamId, data: alert });
    const deliveries = (await server.call('GET', `/api/v1/webhooks/${subscribed.id}/deliveries?event=alert.triggered`)).body.data;
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ event_id: body.id, event: 'alert.triggered', id: request!.headers['x-opsdeck-delivery'] });
    await sleep(300);
    expect(receiver.received(other.path)).toEqual([]);
    expect((await server.call('GET', `/api/v1/webhooks/${other.id}/deliveries`)).body.data).toEqual([]);
  });
});
