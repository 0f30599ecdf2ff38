// OpenTelemetry tracing end to end: a real server process (`node server/main.ts`) with OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at an OTLP/HTTP receiver on loopback (a small node:http server here, decoding the JSON protocol). One
// request with a `traceparent` raises an alert; the spans must come back with the request's trace id and
// parentage: the server span named by operationId with its attributes, PostgreSQL and Redis spans under it, the
// outbox dispatch linked to it, and the webhook attempt in its trace, whose POST carries a `traceparent` of the
// same trace. The batch delay is a minute, so every span the test reads was exported by the flush on SIGTERM:
// the graceful stop is part of what is proven.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { createTestDatabase, testRedis, type TestDatabase } from '../support/backends.ts';
import { startChildServer, type ChildServer } from '../support/child-server.ts';
import { http } from '../support/http.ts';
import { bearer, createTeam, login, TEST_ADMIN } from '../support/identity.ts';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/** A span as OTLP/JSON carries it (ids in hex). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  links?: { traceId: string; spanId: string }[];
  status?: { code?: number };
}
interface ExportedSpan extends OtlpSpan {
  resource: Record<string, unknown>;
  attrs: Record<string, unknown>;
}

const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4 } as const;

/** An OTLP AnyValue as a plain value. */
function plain(value: Record<string, unknown>): unknown {
  if ('stringValue' in value) return value.stringValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue;
  if ('boolValue' in value) return value.boolValue;
  return value;
}
const attributesOf = (list: OtlpSpan['attributes'] = []) => Object.fromEntries(list.map((a) => [a.key, plain(a.value)]));

/** The receiver: POST /v1/traces with an ExportTraceServiceRequest in JSON. */
async function startOtlpReceiver() {
  const spans: ExportedSpan[] = [];
  const contentTypes: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
      contentTypes.push(req.headers['content-type'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { resource?: { attributes?: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) {
        const resource = attributesOf(rs.resource?.attributes);
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ ...span, resource, attrs: attributesOf(span.attributes) });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, contentTypes, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

let database: TestDatabase;
let redisUrl: string | undefined;
let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
let receiver: WebhookReceiver;
let server: ChildServer;

beforeAll(async () => {
  database = await createTestDatabase();
  redisUrl = await testRedis();
  otlp = await startOtlpReceiver();
  receiver = await startReceiver();
  server = await startChildServer(
    {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      ...(database.url ? { DATABASE_URL: database.url } : { PGLITE_DIR: 'memory://' }),
      ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `opsdeck-test:${process.pid}:tracing-${hex(3)}:` } : {}),
      JWT_SECRET: hex(32),
      OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
      OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
      OPSDECK_DEMO_DATA: 'false',
      OUTBOX_POLL_MS: '50',
      SHUTDOWN_GRACE_MS: '2000',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'opsdeck-tracing-test',
      // Nothing is exported before the stop: what arrives was flushed by it.
      OTEL_BSP_SCHEDULE_DELAY: '60000',
    },
    60_000,
  );
}, 90_000);

afterAll(async () => {
  if (server && server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL');
  await receiver?.close();
  await otlp?.close();
  await database?.drop();
});

describe('tracing', () => {
  it("exports a request's spans over OTLP: server span, PostgreSQL and Redis children, outbox dispatch and webhook attempt in its trace", async () => {
    const token = (await login(server.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
    const teamId = await createTeam(server.url, token, 'Traced');
    const hook = await http(server.url, 'POST', '/api/v1/webhooks', { headers: bearer(token), json: { url: `${receiver.url}/traced`, events: ['alert.triggered'] } });
    expect(hook.status, hook.text).toBe(201);

    const traceId = hex(16);
    const parentSpanId = hex(8);
    const raised = await http(server.url, 'POST', '/api/v1/alerts', {
      // The Idempotency-Key is kept in Redis (the rate limiter may answer from its lease without asking Redis).
      headers: { ...bearer(token), traceparent: `00-${traceId}-${parentSpanId}-01`, tracestate: 'vendor=opaque', 'idempotency-key': `traced-${hex(8)}` },
      json: { title: 'Traced alert', severity: 'critical', team_id: teamId },
    });
    expect(raised.status, raised.text).toBe(201);
    const requestId = raised.headers.get('x-request-id');

    // The webhook's POST carries the trace context of an attempt in the request's trace.
    const [delivery] = await receiver.waitFor('/traced', 1, 15_000);
    const sent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(delivery!.headers.traceparent));
    expect(sent, String(delivery!.headers.traceparent)).not.toBeNull();
    expect(sent![1]).toBe(traceId);
    expect(delivery!.headers.tracestate).toBe('vendor=opaque');

    // The graceful stop flushes every span not yet exported.
    server.process.kill('SIGTERM');
    const exit = await server.exited;
    expect(exit.code, server.output()).toBe(0);
    expect(otlp.contentTypes.every((type) => type.startsWith('application/json'))).toBe(true);

    const inTrace = otlp.spans.filter((s) => s.traceId === traceId);
    const serverSpan = inTrace.find((s) => s.kind === SPAN_KIND.server);
    expect(serverSpan, JSON.stringify(inTrace.map((s) => s.name))).toBeDefined();
    expect(serverSpan!.name).toBe('createAlert');
    expect(serverSpan!.parentSpanId).toBe(parentSpanId);
    expect(serverSpan!.attrs).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/api/v1/alerts',
      'url.path': '/api/v1/alerts',
      'http.response.status_code': 201,
      'opsdeck.request_id': requestId,
      'opsdeck.operation_id': 'createAlert',
    });
    expect(serverSpan!.resource).toMatchObject({ 'service.name': 'opsdeck-tracing-test', 'service.version': expect.any(String) });

    const children = inTrace.filter((s) => s.parentSpanId === serverSpan!.spanId);
    const queries = children.filter((s) => s.attrs['db.system.name'] === 'postgresql');
    expect(queries.length, JSON.stringify(children.map((s) => s.name))).toBeGreaterThan(0);
    const insert = queries.find((s) => s.name === 'INSERT alerts');
    expect(insert, JSON.stringify(queries.map((s) => s.name))).toBeDefined();
    expect(insert!.kind).toBe(SPAN_KIND.client);
    expect(insert!.attrs).toMatchObject({ 'db.operation.name': 'INSERT', 'db.collection.name': 'alerts', 'db.query.text': expect.stringMatching(/^insert into "alerts"/) });
    if (redisUrl) {
      // The Idempotency-Key's claim and record, at least.
      const commands = children.filter((s) => s.attrs['db.system.name'] === 'redis');
      expect(commands.length, JSON.stringify(children.map((s) => s.name))).toBeGreaterThan(0);
      expect(commands[0]!.kind).toBe(SPAN_KIND.client);
    }

    // The outbox dispatch is linked to the request that recorded the event.
    const dispatch = otlp.spans.find((s) => s.name === 'outbox dispatch' && s.links?.some((l) => l.traceId === traceId && l.spanId === serverSpan!.spanId));
    expect(dispatch, JSON.stringify(otlp.spans.filter((s) => s.name === 'outbox dispatch'))).toBeDefined();
    expect(dispatch!.kind).toBe(SPAN_KIND.producer);
    expect(otlp.spans.some((s) => s.traceId === dispatch!.traceId && s.parentSpanId === dispatch!.spanId && s.attrs['db.system.name'] === 'postgresql')).toBe(true);

    // The webhook attempt is a client span under the request's, and the one the POST named as its parent.
    const attempt = inTrace.find((s) => s.name === 'webhook alert.triggered');
    expect(attempt, JSON.stringify(inTrace.map((s) => s.name))).toBeDefined();
    expect(attempt!.kind).toBe(SPAN_KIND.client);
    expect(attempt!.parentSpanId).toBe(serverSpan!.spanId);
    expect(attempt!.spanId).toBe(sent![2]);
    expect(attempt!.attrs).toMatchObject({
      'http.request.method': 'POST',
      'url.full': `${receiver.url}/traced`,
      'http.response.status_code': 200,
      'opsdeck.event_type': 'alert.triggered',
      'opsdeck.webhook_id': hook.body.data.id,
    });

    // Log lines of the request carry its trace: the access line, at least.
    const lines = server
      .output()
      .split('\n')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    const access = lines.find((l) => l.msg === 'request' && l.request_id === requestId);
    expect(access).toMatchObject({ trace_id: traceId, span_id: serverSpan!.spanId });
  });

});

describe('tracing configuration', () => {
  const base = { NODE_ENV: 'test' };
  it('is off without an OTLP endpoint, and with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none', () => {
    expect(loadConfig(base).tracing).toBeUndefined();
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeUndefined();
  });

  it('is on with either endpoint variable, over http/protobuf unless told http/json', () => {
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).tracing).toEqual({ protocol: 'http/protobuf' });
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).tracing).toEqual({ protocol: 'http/json' });
    expect(
      loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }).tracing,
    ).toEqual({ protocol: 'http/protobuf' });
  });

  it('refuses a protocol it cannot send, naming the variable', () => {
    expect(() => loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(ConfigError);
    try {
      loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    } catch (err) {
      expect((err as ConfigError).variable).toBe('OTEL_EXPORTER_OTLP_PROTOCOL');
    }
  });
});
