// The events CD systems wait for, over HTTP on the real backends: pipeline runs that start and end, pipelines
// changed (one by one and in bulk), deployments asked for, rolled back (with the reason and requested_by that
// `rollbackDeployment` now takes) and finished. Each reaches a webhook on a local receiver, signed, and the
// live stream on its channel (`pipelines`, `deployments`) — once per change, never for a change that did not
// happen — and the `pipelines` channel needs `pipelines:read`.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { bearer, createUser, TEST_ADMIN, type TestUser } from '../support/identity.ts';
import { openStream, streamEventProblems, type SseConnection, type StreamMessage } from '../support/sse.ts';
import { signatureValid, startReceiver, type ReceivedRequest, type WebhookReceiver } from '../support/webhook-receiver.ts';

let server: TestServer;
let receiver: WebhookReceiver;
let viewer: TestUser;

beforeAll(async () => {
  server = await startTestServer({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', OUTBOX_POLL_MS: '50' });
  receiver = await startReceiver();
  viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId]);
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

type Row = Record<string, any> & { id: string };

async function ok(method: string, path: string, json?: unknown, status = 200, headers: Record<string, string> = {}): Promise<Row> {
  const res = await server.call(method, path, { ...(json === undefined ? {} : { json }), headers });
  expect(res.status, res.text).toBe(status);
  return res.body.data;
}

/** A webhook on its own path of the receiver. */
async function hook(events: string[]) {
  const path = `/hook-${randomUUID()}`;
  const webhook = await ok('POST', '/api/v1/webhooks', { url: `${receiver.url}${path}`, events }, 201);
  return { id: webhook.id, secret: webhook.secret as string, path };
}

const unique = () => randomUUID().slice(0, 8);
const newPipeline = (json: Record<string, unknown> = {}) => ok('POST', '/api/v1/pipelines', { name: `build ${unique()}`, repository: 'github.com/opsdeck/api', ...json }, 201);
const newRun = (pipelineId: string) => ok('POST', `/api/v1/pipelines/${pipelineId}/runs`, { commit_sha: '9fceb02d0ae598e95dc970b74767f19372d61af8' }, 201);
const moveRun = (run: Row, status: string) => ok('PATCH', `/api/v1/pipelines/${run.pipeline_id}/runs/${run.id}`, { status });

const newService = () => `svc-${unique()}`;
const deploy = (service: string, version: string) => ok('POST', '/api/v1/deployments', { service, version, environment: 'production' }, 201);
async function drive(id: string, ...statuses: string[]): Promise<Row> {
  let last: Row | undefined;
  for (const status of statuses) last = await ok('PATCH', `/api/v1/deployments/${id}`, { status });
  return last!;
}
/** A succeeded deployment after an earlier one: it has a previous version to roll back to. */
async function secondRelease() {
  const service = newService();
  await drive((await deploy(service, 'v1.0.0')).id, 'running', 'succeeded');
  const second = await deploy(service, 'v2.0.0');
  await drive(second.id, 'running', 'succeeded');
  return second;
}

const about = (id: string) => (m: StreamMessage) => (m.payload.data as { id: string }).id === id;
const delivered = (request: ReceivedRequest) => JSON.parse(request.body) as { id: string; event: string; team_id: string; data: Row };

describe('webhooks', () => {
  it('receive pipeline.run.completed with the run and its status, signed, once per run that ends', async () => {
    const webhook = await hook(['pipeline.run.completed']);
    const pipeline = await newPipeline();
    const run = await newRun(pipeline.id);
    await moveRun(run, 'running');
    const succeeded = await moveRun(run, 'succeeded');
    // A queued run cancelled before it started ends too.
    const cancelled = await moveRun(await newRun(pipeline.id), 'cancelled');

    const requests = await receiver.waitFor(webhook.path, 2);
    expect(requests.map((r) => r.headers['x-opsdeck-event'])).toEqual(['pipeline.run.completed', 'pipeline.run.completed']);
    for (const request of requests) expect(await signatureValid(webhook.secret, request)).toBe(true);
    // Deliveries to one webhook may overlap (x-webhook-delivery.max_in_flight_per_webhook), so they can arrive in either order.
    const events = requests.map(delivered);
    const first = events.find((e) => e.data.id === run.id);
    const second = events.find((e) => e.data.id !== run.id);
    expect(first).toMatchObject({ event: 'pipeline.run.completed', team_id: server.teamId, data: succeeded });
    expect(first!.data).toMatchObject({ id: run.id, status: 'succeeded', finished_at: expect.stringMatching(/Z$/), duration_seconds: expect.any(Number) });
    expect(second).toMatchObject({ event: 'pipeline.run.completed', data: { ...cancelled, status: 'cancelled', started_at: null } });
    // The run as getPipelineRun answers it.
    expect(first!.data).toEqual(await ok('GET', `/api/v1/pipelines/${pipeline.id}/runs/${run.id}`));
    // The deliveries are listed by their event type (a name of three parts).
    const listed = await server.call('GET', `/api/v1/webhooks/${webhook.id}/deliveries?event=pipeline.run.completed`);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.data.map((d: Row) => d.event_id).sort()).toEqual([first!.id, second!.id].sort());
    // The same status again is no change: nothing more is sent.
    await moveRun(run, 'succeeded');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(receiver.received(webhook.path)).toHaveLength(2);
  });

  it('receive deployment.rollback_requested with the reason and requested_by given to rollbackDeployment', async () => {
    const webhook = await hook(['deployment.rollback_requested']);
    const second = await secondRelease();
    const body = { reason: 'Error rate above 5% since v2.0.0', requested_by: 'deploy-bot (for ada@example.com)' };
    const res = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`, { json: body });
    expect(res.status, res.text).toBe(202);
    const accepted = res.body.data;
    expect(accepted).toMatchObject({ deployment_id: second.id, status: 'pending', ...body });

    const [request] = await receiver.waitFor(webhook.path, 1);
    expect(request!.headers['x-opsdeck-event']).toBe('deployment.rollback_requested');
    expect(await signatureValid(webhook.secret, request!)).toBe(true);
    const event = delivered(request!);
    expect(event).toMatchObject({
      event: 'deployment.rollback_requested',
      team_id: server.teamId,
      data: { id: accepted.rollback_id, rollback_of: second.id, version: 'v1.0.0', status: 'pending', ...body },
    });
    // Kept on the rollback deployment, as getDeployment answers it.
    expect(event.data).toEqual(await ok('GET', `/api/v1/deployments/${accepted.rollback_id}`));
  });
});

describe('rollbackDeployment’s body', () => {
  it('may be absent or empty: requested_by is then the caller’s email, reason null', async () => {
    const none = await server.call('POST', `/api/v1/deployments/${(await secondRelease()).id}/rollback`);
    expect(none.status, none.text).toBe(202);
    expect(none.body.data).toMatchObject({ reason: null, requested_by: TEST_ADMIN.email });
    expect(await ok('GET', `/api/v1/deployments/${none.body.data.rollback_id}`)).toMatchObject({ reason: null, requested_by: TEST_ADMIN.email });

    const operator = await createUser(server.url, server.adminToken, 'operator', [server.teamId]);
    const empty = await server.call('POST', `/api/v1/deployments/${(await secondRelease()).id}/rollback`, { json: { reason: 'Smoke tests failed' }, headers: bearer(operator.token) });
    expect(empty.status, empty.text).toBe(202);
    expect(empty.body.data).toMatchObject({ reason: 'Smoke tests failed', requested_by: operator.email });
    const bare = await server.call('POST', `/api/v1/deployments/${(await secondRelease()).id}/rollback`, { json: {} });
    expect(bare.status, bare.text).toBe(202);
  });

  it('is refused with 422 when a field is blank, too long or unknown, and nothing is rolled back', async () => {
    const second = await secondRelease();
    for (const json of [{ reason: '' }, { requested_by: '   ' }, { reason: 'x'.repeat(501) }, { requested_by: 'x'.repeat(255) }, { user: 'ada' }]) {
      const res = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`, { json });
      expect(res.status, JSON.stringify(json)).toBe(422);
      expect(res.body.error.code).toMatch(/^VAL_/);
    }
    const rollbacks = await ok('GET', `/api/v1/deployments?service=${encodeURIComponent(second.service)}&status=pending`);
    expect(rollbacks).toEqual([]);
  });

  it('a deployment that is no rollback has neither', async () => {
    expect(await deploy(newService(), 'v1.0.0')).toMatchObject({ reason: null, requested_by: null, rollback_of: null });
  });
});

describe('the pipelines channel of the live stream', () => {
  const keyOf = async (user: TestUser, scopes: string[]) => {
    const res = await server.call('POST', '/api/v1/api-keys', { json: { name: `events ${unique()}`, scopes }, headers: bearer(user.token) });
    expect(res.status, res.text).toBe(201);
    return { 'x-api-key': res.body.data.secret as string };
  };

  it('carries pipeline.run.started (and the rest of pipeline.*) to a viewer, which pipelines:read lets read it', async () => {
    const conn = await openStream(server.url, '/api/v1/events?channels=pipelines', bearer(viewer.token));
    try {
      expect(conn.status).toBe(200);
      const pipeline = await newPipeline();
      const run = await newRun(pipeline.id);
      const running = await moveRun(run, 'running');
      const started = await conn.waitForEvent((m) => m.event === 'pipeline.run.started' && about(run.id)(m));
      expect(started.payload).toMatchObject({ event: 'pipeline.run.started', team_id: server.teamId, data: running });
      expect(started.payload.data).toMatchObject({ status: 'running', started_at: expect.stringMatching(/Z$/), finished_at: null });
      expect(streamEventProblems(started.payload)).toBe('');
      const failed = await moveRun(run, 'failed');
      const completed = await conn.waitForEvent((m) => m.event === 'pipeline.run.completed' && about(run.id)(m));
      expect(completed.payload.data).toEqual(failed);
      expect(BigInt(completed.id)).toBeGreaterThan(BigInt(started.id));
      expect(streamEventProblems(completed.payload)).toBe('');
    } finally {
      conn.close();
    }
  });

  it('is refused (403) to a viewer’s key without pipelines:read, which still streams deployments', async () => {
    const headers = await keyOf(viewer, ['events:subscribe', 'deployments:read']);
    const refused = await openStream(server.url, '/api/v1/events?channels=pipelines', headers);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('PERM_DENIED');
    expect(refused.body.error.message).toContain('pipelines:read');
    expect((await openStream(server.url, '/api/v1/events?channels=deployments,pipelines', headers)).status).toBe(403);

    // By default it gets the channels it may read: deployments, and no pipeline events.
    const conn = await openStream(server.url, '/api/v1/events', headers);
    try {
      expect(conn.status).toBe(200);
      const pipeline = await newPipeline();
      await ok('PATCH', `/api/v1/pipelines/${pipeline.id}`, { branch: 'release' });
      const deployment = await deploy(newService(), 'v1.0.0');
      await conn.waitForEvent((m) => m.event === 'deployment.created' && about(deployment.id)(m));
      expect(conn.messages.filter((m) => m.event.startsWith('pipeline.'))).toEqual([]);
    } finally {
      conn.close();
    }
  });
});

describe('each change raises its event exactly once', () => {
  let conn: SseConnection;
  beforeAll(async () => {
    conn = await openStream(server.url, `/api/v1/events?channels=pipelines,deployments&team_id=${server.teamId}`, bearer(server.adminToken));
    expect(conn.status).toBe(200);
  });
  afterAll(() => conn?.close());

  /** The events about `id` received so far, as `type` or `type:status`. */
  const eventsAbout = (id: string) => conn.messages.filter(about(id)).map((m) => m.event);
  /** A deployment created last: once its event is in, every change made before it has been streamed too. */
  const fence = async () => {
    const marker = await deploy(newService(), 'v0.0.1');
    await conn.waitForEvent((m) => m.event === 'deployment.created' && about(marker.id)(m));
  };

  it('pipelines: a patch once, a bulk change once per pipeline it changed, a run once when it starts and once when it ends', async () => {
    const tag = unique();
    const [a, b, c] = [await newPipeline({ name: `bulk ${tag} a` }), await newPipeline({ name: `bulk ${tag} b` }), await newPipeline({ name: `bulk ${tag} c`, status: 'paused' })];
    const staleEtag = (await server.call('GET', `/api/v1/pipelines/${a.id}`)).headers.get('etag')!;
    const patched = await ok('PATCH', `/api/v1/pipelines/${a.id}`, { branch: 'release' });
    // Matches three, changes two (c is paused already).
    const bulk = await ok('PATCH', '/api/v1/pipelines/bulk', { filter: { name_contains: `bulk ${tag}` }, set: { status: 'paused' } });
    expect(bulk).toEqual({ matched: 3, updated: 2 });
    // A refused change raises nothing.
    const refused = await server.call('PATCH', `/api/v1/pipelines/${a.id}`, { json: { branch: 'x' }, headers: { 'if-match': staleEtag } });
    expect(refused.status).toBe(412);
    await ok('PATCH', '/api/v1/pipelines/bulk', { filter: { name_contains: `bulk ${tag}` }, set: { status: 'active' } });
    const run = await newRun(a.id);
    await moveRun(run, 'running');
    await moveRun(run, 'running');
    await moveRun(run, 'succeeded');
    expect((await server.call('PATCH', `/api/v1/pipelines/${a.id}/runs/${run.id}`, { json: { status: 'running' } })).status).toBe(409);
    await fence();

    expect(eventsAbout(a.id)).toEqual(['pipeline.updated', 'pipeline.updated', 'pipeline.updated']);
    expect(eventsAbout(b.id)).toEqual(['pipeline.updated', 'pipeline.updated']);
    expect(eventsAbout(c.id)).toEqual(['pipeline.updated']);
    expect(conn.messages.find(about(a.id))!.payload.data).toEqual(patched);
    expect(conn.messages.filter(about(b.id)).map((m) => (m.payload.data as Row).status)).toEqual(['paused', 'active']);
    expect(eventsAbout(run.id)).toEqual(['pipeline.run.started', 'pipeline.run.completed']);
  });

  it('deployments: created once, a rollback once (no deployment.created for it, none for a replayed request), finished once per end', async () => {
    const service = newService();
    const first = await deploy(service, 'v1.0.0');
    await drive(first.id, 'running', 'succeeded');
    const second = await deploy(service, 'v2.0.0');
    await drive(second.id, 'running', 'running', 'failed');
    const key = { 'idempotency-key': `rollback-${unique()}` };
    const accepted = await ok('POST', `/api/v1/deployments/${second.id}/rollback`, { reason: 'v2 fails its health checks' }, 202, key);
    const replayed = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`, { json: { reason: 'v2 fails its health checks' }, headers: key });
    expect(replayed.status).toBe(202);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect((await server.call('POST', `/api/v1/deployments/${second.id}/rollback`)).status).toBe(409);
    await drive(accepted.rollback_id, 'running', 'succeeded');
    await fence();

    expect(eventsAbout(first.id)).toEqual(['deployment.created', 'deployment.finished']);
    // Its own end (failed), then rolled_back when the rollback succeeded.
    expect(eventsAbout(second.id)).toEqual(['deployment.created', 'deployment.finished', 'deployment.finished']);
    expect(conn.messages.filter(about(second.id)).map((m) => (m.payload.data as Row).status)).toEqual(['pending', 'failed', 'rolled_back']);
    expect(eventsAbout(accepted.rollback_id)).toEqual(['deployment.rollback_requested', 'deployment.finished']);
    const requested = conn.messages.find(about(accepted.rollback_id))!;
    expect(requested.payload.data).toMatchObject({ reason: 'v2 fails its health checks', requested_by: TEST_ADMIN.email, rollback_of: second.id });
    for (const message of conn.messages) expect(streamEventProblems(message.payload)).toBe('');
  });
});

describe('registering a webhook', () => {
  it('accepts the new event types', async () => {
    const events = ['pipeline.run.started', 'pipeline.run.completed', 'pipeline.updated', 'deployment.created', 'deployment.rollback_requested', 'deployment.finished'];
    const webhook = await ok('POST', '/api/v1/webhooks', { url: `${receiver.url}/all`, events }, 201);
    expect(webhook.events).toEqual(events);
  });

  it('answers pipeline.completed (seed 001’s name) with 422 and a hint naming pipeline.run.completed', async () => {
    const res = await server.call('POST', '/api/v1/webhooks', { json: { url: `${receiver.url}/old`, events: ['alert.triggered', 'pipeline.completed'] } });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([{ field: 'events.1', message: expect.stringContaining('pipeline.run.completed'), value: 'pipeline.completed' }]);
    expect(res.body.error.message).toContain('did you mean "pipeline.run.completed"');
    // Any field with a list of values is told them and the nearest, a parameter as a body field.
    expect(res.body.error.details[0].message).toMatch(/^must be equal to one of the allowed values: task\.created, task\.completed, .*pipeline\.run\.completed/);
    const query = await server.call('GET', '/api/v1/pipelines?status=activ');
    expect(query.status).toBe(400);
    expect(query.body.error.details).toEqual([{ field: 'status', message: 'must be equal to one of the allowed values: active, paused, disabled; did you mean "active"?', value: 'activ' }]);
  });
});
