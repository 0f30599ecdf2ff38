// GET /metrics over HTTP, after real traffic: per-operation counts and durations moved by exactly the requests
// made, rate-limit refusals by tier after a provoked 429, idempotent replays, webhook attempts and their
// latency after a ping to a real receiver, open event streams, outbox figures read from the database at
// scrape time, worker runs, pools, Redis and Node's process metrics; METRICS_TOKEN protection; never rate
// limited; and a registry per app (two servers in one process count apart).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../support/http.ts';
import { bearer } from '../support/identity.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { openStream } from '../support/sse.ts';
import { eventually, startReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const METRICS_TOKEN = 'metrics-test-token-0123456789';
const generous = { requests_per_minute: 600_000, burst: 100_000 };
// Generous tiers; a login limiter of 3 (the set-up's sign-in spends one) that does not refill during the test.
const RATE_LIMITS = JSON.stringify({
  tiers: { anonymous: generous, authenticated: generous, premium: generous, admin: generous },
  limiters: { login: { requests_per_minute: 1, burst: 3 } },
});

/** One sample of the exposition text: `name{labels} value`, labels matched as a subset; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

let server: TestServer;
let receiver: WebhookReceiver;
const scrape = async (base = server.url, token: string | undefined = METRICS_TOKEN) => {
  const res = await http(base, 'GET', '/metrics', { headers: token ? bearer(token) : {} });
  expect(res.status, res.text).toBe(200);
  return res.text;
};

beforeAll(async () => {
  server = await startTestServer({ METRICS_TOKEN, RATE_LIMITS, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', OUTBOX_POLL_MS: '50' });
  receiver = await startReceiver();
});

afterAll(async () => {
  await receiver?.close();
  await server?.close();
});

describe('GET /metrics', () => {
  it('answers the Prometheus text format, never rate limited, never cached, with help text for every metric', async () => {
    const res = await http(server.url, 'GET', '/metrics', { headers: bearer(METRICS_TOKEN) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const names = new Set([...res.text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const helped = new Set([...res.text.matchAll(/^# HELP (\S+) \S/gm)].map((m) => m[1]!));
    for (const name of [
      'opsdeck_http_requests_total',
      'opsdeck_http_request_duration_seconds',
      'opsdeck_rate_limit_refusals_total',
      'opsdeck_idempotency_replays_total',
      'opsdeck_webhook_attempts_total',
      'opsdeck_webhook_attempt_duration_seconds',
      'opsdeck_worker_runs_total',
      'opsdeck_db_pool_connections',
      'opsdeck_db_pool_max_connections',
      'opsdeck_outbox_backlog_events',
      'opsdeck_outbox_oldest_event_age_seconds',
      'opsdeck_event_streams_open',
      'process_cpu_user_seconds_total',
      'nodejs_heap_size_total_bytes',
    ]) {
      expect(names, name).toContain(name);
    }
    for (const name of names) expect(helped, `help text of ${name}`).toContain(name);
    // Bounded by the contract: requests are labelled by operationId, never by a raw path.
    expect(res.text).not.toMatch(/path="/);
  });

  it('is refused without the METRICS_TOKEN (401 with a challenge), and with a wrong one', async () => {
    const none = await http(server.url, 'GET', '/metrics');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('AUTH_REQUIRED');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const wrong = await http(server.url, 'GET', '/metrics', { headers: bearer('not-the-metrics-token-at-all') });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('AUTH_INVALID_TOKEN');
    // A user's access token is not the metrics token.
    const user = await http(server.url, 'GET', '/metrics', { headers: bearer(server.adminToken) });
    expect(user.status).toBe(401);
    // The refusals are counted like any answer.
    expect(sample(await scrape(), 'opsdeck_http_requests_total', { operation_id: 'getMetrics', status_class: '4xx' })).toBeGreaterThanOrEqual(3);
  });

  it('counts requests and their durations by operationId, method and status class', async () => {
    const labels = { operation_id: 'getSystemVersion', method: 'GET', status_class: '2xx' };
    const before = await scrape();
    for (let i = 0; i < 3; i += 1) expect((await http(server.url, 'GET', '/api/v1/system/version')).status).toBe(200);
    const missing = await server.call('GET', `/api/v1/agents/${randomUUID()}`);
    expect(missing.status).toBe(404);
    const after = await scrape();
    expect(sample(after, 'opsdeck_http_requests_total', labels)! - sample(before, 'opsdeck_http_requests_total', labels)!).toBe(3);
    const count = (text: string) => sample(text, 'opsdeck_http_request_duration_seconds_count', labels) ?? 0;
    expect(count(after) - count(before)).toBe(3);
    expect(sample(after, 'opsdeck_http_request_duration_seconds_sum', labels)).toBeGreaterThan(0);
    expect(sample(after, 'opsdeck_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(count(after));
    const notFound = { operation_id: 'getAgent', method: 'GET', status_class: '4xx' };
    expect((sample(after, 'opsdeck_http_requests_total', notFound) ?? 0) - (sample(before, 'opsdeck_http_requests_total', notFound) ?? 0)).toBe(1);
    // Requests that match no operation are counted apart, by status (their paths are anyone's, never a label).
    await http(server.url, 'GET', `/no/such/path/${randomUUID()}`);
    await http(server.url, 'DELETE', '/health/live');
    const unmatched = await scrape();
    expect((sample(unmatched, 'opsdeck_http_unmatched_requests_total', { status: '404' }) ?? 0) - (sample(after, 'opsdeck_http_unmatched_requests_total', { status: '404' }) ?? 0)).toBe(1);
    expect((sample(unmatched, 'opsdeck_http_unmatched_requests_total', { status: '405' }) ?? 0) - (sample(after, 'opsdeck_http_unmatched_requests_total', { status: '405' }) ?? 0)).toBe(1);
    expect(unmatched).not.toContain('/no/such/path');
    // Every operation's counters exist from the start, at 0 until it is called.
    expect(sample(after, 'opsdeck_http_requests_total', { operation_id: 'rollbackDeployment', method: 'POST', status_class: '5xx' })).toBe(0);
  });

  it('counts rate-limit refusals by tier (here the login limiter) after a 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5 && !statuses.includes(429); i += 1) {
      statuses.push((await http(server.url, 'POST', '/api/v1/auth/login', { json: { email: `nobody-${i}@example.com`, password: 'wrong-password-123' } })).status);
    }
    expect(statuses).toContain(429);
    const text = await scrape();
    expect(sample(text, 'opsdeck_rate_limit_refusals_total', { tier: 'login' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'opsdeck_http_requests_total', { operation_id: 'login', status_class: '4xx' })).toBeGreaterThanOrEqual(statuses.length);
  });

  it('counts idempotent replays by operationId', async () => {
    const key = `metrics-${randomUUID()}`;
    const body = { json: { name: `Replayed ${randomUUID().slice(0, 8)}` }, headers: { ...bearer(server.adminToken), 'idempotency-key': key } };
    const first = await http(server.url, 'POST', '/api/v1/teams', body);
    expect(first.status, first.text).toBe(201);
    const again = await http(server.url, 'POST', '/api/v1/teams', body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(sample(await scrape(), 'opsdeck_idempotency_replays_total', { operation_id: 'createTeam' })).toBe(1);
  });

  it('counts webhook attempts by outcome with their latency, and the outbox and workers that carried them', async () => {
    const path = `/hook-${randomUUID()}`;
    const created = await server.call('POST', '/api/v1/webhooks', { json: { url: `${receiver.url}${path}`, events: ['alert.triggered'], team_id: server.teamId } });
    expect(created.status, created.text).toBe(201);
    const ping = await server.call('POST', `/api/v1/webhooks/${created.body.data.id}/ping`);
    expect(ping.status, ping.text).toBe(202);
    await receiver.waitFor(path, 1);
    const text = await eventually(async () => {
      const scraped = await scrape();
      return (sample(scraped, 'opsdeck_webhook_attempts_total', { outcome: 'succeeded' }) ?? 0) >= 1 ? scraped : undefined;
    }, 10_000, 'a succeeded attempt in the metrics');
    expect(sample(text, 'opsdeck_webhook_attempt_duration_seconds_count', { outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'opsdeck_worker_runs_total', { worker: 'dispatcher', outcome: 'ok' })).toBeGreaterThan(0);
    // Read from the database at scrape time: numbers, not NaN (the ping's event is dispatched by now, or soon).
    expect(Number.isFinite(sample(text, 'opsdeck_outbox_backlog_events'))).toBe(true);
    expect(sample(text, 'opsdeck_outbox_oldest_event_age_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('reports open event streams, the database pools and Redis', async () => {
    const stream = await openStream(server.url, '/api/v1/events', bearer(server.adminToken));
    expect(stream.status).toBe(200);
    try {
      expect(sample(await scrape(), 'opsdeck_event_streams_open')).toBe(1);
    } finally {
      stream.close();
    }
    await eventually(async () => (sample(await scrape(), 'opsdeck_event_streams_open') === 0 ? true : undefined), 5_000, 'the stream closed');
    const text = await scrape();
    expect(sample(text, 'opsdeck_db_pool_connections', { pool: 'main' })).toBeGreaterThanOrEqual(1);
    if (server.testDatabase.url) {
      expect(sample(text, 'opsdeck_db_info', { backend: 'postgresql' })).toBe(1);
      expect(sample(text, 'opsdeck_db_pool_idle_connections', { pool: 'main' })).toBeGreaterThanOrEqual(0);
      expect(sample(text, 'opsdeck_db_pool_waiting_requests', { pool: 'main' })).toBe(0);
      expect(sample(text, 'opsdeck_db_pool_max_connections', { pool: 'main' })).toBe(10);
      expect(sample(text, 'opsdeck_db_pool_connections', { pool: 'feed' })).toBeGreaterThanOrEqual(0);
    } else {
      expect(sample(text, 'opsdeck_db_info', { backend: 'pglite' })).toBe(1);
    }
    if (server.redis) expect(sample(text, 'opsdeck_redis_up')).toBe(1);
    else expect(sample(text, 'opsdeck_redis_up')).toBeUndefined();
  });

  it('keeps a registry per app: a second server in this process counts only its own requests, and needs no token without METRICS_TOKEN', async () => {
    const other = await startTestServer();
    try {
      await http(server.url, 'GET', '/api/v1/system/version');
      const labels = { operation_id: 'getSystemVersion', method: 'GET', status_class: '2xx' };
      expect(sample(await scrape(other.url, undefined), 'opsdeck_http_requests_total', labels)).toBe(0);
      expect(sample(await scrape(), 'opsdeck_http_requests_total', labels)).toBeGreaterThanOrEqual(4);
    } finally {
      await other.close();
    }
  });
});
