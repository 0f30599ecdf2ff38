// Deployments: the previous version found at creation, status moving only along pending → running →
// succeeded | failed with timings the database sets, If-Match, rollbacks as long-running operations (a new
// deployment of the previous version that turns the original `rolled_back` when it succeeds), lists by
// environment and status, and team scope.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http } from '../support/http.ts';
import { bearer, createTeam, createUser, type TestUser } from '../support/identity.ts';

let server: TestServer;
let adminId: string;
beforeAll(async () => {
  server = await startTestServer();
  adminId = (await server.call('GET', '/api/v1/auth/profile')).body.data.id;
});
afterAll(async () => {
  await server?.close();
});

let serial = 0;
/** A service name no other test uses, so previous versions never leak between tests. */
const newService = () => `svc-${process.pid}-${(serial += 1)}-${Math.random().toString(36).slice(2, 6)}`;

type Deployment = Record<string, any> & { id: string; status: string };

async function deploy(service: string, version: string, environment = 'production', headers: Record<string, string> = {}): Promise<Deployment> {
  const res = await server.call('POST', '/api/v1/deployments', { json: { service, version, environment }, headers });
  expect(res.status, res.text).toBe(201);
  return res.body.data;
}
const patch = (id: string, json: unknown, headers: Record<string, string> = {}) => server.call('PATCH', `/api/v1/deployments/${id}`, { json, headers });
const get = async (id: string): Promise<Deployment> => (await server.call('GET', `/api/v1/deployments/${id}`)).body.data;
async function drive(id: string, ...statuses: string[]): Promise<Deployment> {
  let last: Deployment | undefined;
  for (const status of statuses) {
    const res = await patch(id, { status });
    expect(res.status, res.text).toBe(200);
    last = res.body.data;
  }
  return last!;
}
/** A deployment that succeeded, after `live` succeeded before it: it has a previous version to roll back to. */
async function secondRelease(service = newService(), environment = 'production') {
  const first = await deploy(service, 'v1.0.0', environment);
  await drive(first.id, 'running', 'succeeded');
  const second = await deploy(service, 'v2.0.0', environment);
  return { service, first, second };
}

describe('creating deployments', () => {
  it('answers 201 with Location; it starts pending with no timings, created by the caller', async () => {
    const service = newService();
    const res = await server.call('POST', '/api/v1/deployments', { json: { service, version: 'v1.2.3', environment: 'staging' } });
    expect(res.status).toBe(201);
    const deployment = res.body.data;
    expect(res.headers.get('location')).toBe(`/api/v1/deployments/${deployment.id}`);
    expect(deployment).toMatchObject({
      team_id: server.teamId,
      service,
      version: 'v1.2.3',
      environment: 'staging',
      status: 'pending',
      previous_version: null,
      rollback_of: null,
      started_at: null,
      finished_at: null,
      duration_seconds: null,
      created_by: adminId,
    });
    expect(await get(deployment.id)).toEqual(deployment);
  });

  it('finds the previous version: the last succeeded deployment of the same service and environment', async () => {
    const service = newService();
    const v1 = await deploy(service, 'v1');
    await drive(v1.id, 'running', 'succeeded');
    const v2 = await deploy(service, 'v2');
    expect(v2.previous_version).toBe('v1');
    await drive(v2.id, 'running', 'failed');
    // A failed deployment never became live: v1 still is.
    expect((await deploy(service, 'v3')).previous_version).toBe('v1');
    const v4 = await deploy(service, 'v4');
    await drive(v4.id, 'running', 'succeeded');
    expect((await deploy(service, 'v5')).previous_version).toBe('v4');
    // Other environments and services have their own history.
    expect((await deploy(service, 'v5', 'staging')).previous_version).toBeNull();
    expect((await deploy(newService(), 'v5')).previous_version).toBeNull();
  });

  it('refuses invalid input with 422 and a team of someone else with 404', async () => {
    const bad = await server.call('POST', '/api/v1/deployments', { json: { service: 'api gateway', version: 'v1', environment: 'qa' } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['environment', 'service']);
    const missing = await server.call('POST', '/api/v1/deployments', { json: { service: newService(), environment: 'production' } });
    expect(missing.status).toBe(422);
    const unknownField = await server.call('POST', '/api/v1/deployments', { json: { service: newService(), version: 'v1', environment: 'production', status: 'succeeded' } });
    expect(unknownField.status).toBe(422);
    const foreign = await server.call('POST', '/api/v1/deployments', { json: { service: newService(), version: 'v1', environment: 'production', team_id: '0192f0a0-0000-7000-8000-0000000000ff' } });
    expect(foreign.status).toBe(404);
  });

  it('replays a create with the same Idempotency-Key instead of recording it twice', async () => {
    const service = newService();
    const headers = { 'idempotency-key': `deploy-${service}` };
    const first = await server.call('POST', '/api/v1/deployments', { json: { service, version: 'v1', environment: 'production' }, headers });
    const again = await server.call('POST', '/api/v1/deployments', { json: { service, version: 'v1', environment: 'production' }, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.data).toEqual(first.body.data);
    const rows = await server.database.db.selectFrom('deployments').select('id').where('service', '=', service).execute();
    expect(rows).toHaveLength(1);
  });
});

describe('status transitions', () => {
  it('goes pending → running → succeeded, with started_at, finished_at and duration set by the database', async () => {
    const deployment = await deploy(newService(), 'v1');
    const running = await drive(deployment.id, 'running');
    expect(running.started_at).not.toBeNull();
    expect(running).toMatchObject({ status: 'running', finished_at: null, duration_seconds: null });
    // Make it look like it started 90 seconds ago, then finish it.
    await server.database.db
      .updateTable('deployments')
      .set({ started_at: sql`now() - interval '90 seconds'` })
      .where('id', '=', deployment.id)
      .execute();
    const done = await drive(deployment.id, 'succeeded');
    expect(done.status).toBe('succeeded');
    expect(done.duration_seconds).toBeGreaterThanOrEqual(90);
    expect(done.duration_seconds).toBeLessThan(100);
    const row = await server.database.db.selectFrom('deployments').select(['started_at', 'finished_at', 'duration_seconds']).where('id', '=', deployment.id).executeTakeFirstOrThrow();
    expect(row.duration_seconds).toBe(Math.floor((row.finished_at!.getTime() - row.started_at!.getTime()) / 1000));
    expect(done.finished_at).toBe(row.finished_at!.toISOString());
  });

  it('goes running → failed with its timings', async () => {
    const deployment = await deploy(newService(), 'v1');
    const failed = await drive(deployment.id, 'running', 'failed');
    expect(failed.status).toBe('failed');
    expect(failed.finished_at).not.toBeNull();
    expect(failed.duration_seconds).toBe(Math.floor((Date.parse(failed.finished_at) - Date.parse(failed.started_at)) / 1000));
  });

  it('refuses every other transition with 409 BIZ_DEPLOYMENT_INVALID_TRANSITION and changes nothing', async () => {
    const pending = await deploy(newService(), 'v1');
    for (const status of ['succeeded', 'failed']) {
      const res = await patch(pending.id, { status });
      expect(res.status, `pending → ${status}`).toBe(409);
      expect(res.body.error.code).toBe('BIZ_DEPLOYMENT_INVALID_TRANSITION');
      expect(res.body.error.details[0]).toMatchObject({ field: 'status', value: status });
    }
    expect(await get(pending.id)).toEqual(pending);

    const succeeded = await deploy(newService(), 'v1');
    await drive(succeeded.id, 'running', 'succeeded');
    const failed = await deploy(newService(), 'v1');
    await drive(failed.id, 'running', 'failed');
    for (const finished of [succeeded, failed]) {
      const before = await get(finished.id);
      for (const status of ['running', 'succeeded', 'failed'].filter((s) => s !== before.status)) {
        const res = await patch(finished.id, { status });
        expect(res.status, `${before.status} → ${status}`).toBe(409);
        expect(res.body.error.code).toBe('BIZ_DEPLOYMENT_INVALID_TRANSITION');
      }
      expect(await get(finished.id)).toEqual(before);
    }
  });

  it('cannot be set to pending or rolled_back, nor change anything but status (422)', async () => {
    const deployment = await deploy(newService(), 'v1');
    for (const json of [{ status: 'pending' }, { status: 'rolled_back' }, { version: 'v2' }]) {
      const res = await patch(deployment.id, json);
      expect(res.status, JSON.stringify(json)).toBe(422);
    }
  });

  it('treats the current status again, and an empty patch, as no change', async () => {
    const deployment = await deploy(newService(), 'v1');
    const running = await drive(deployment.id, 'running');
    const again = await patch(deployment.id, { status: 'running' });
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(running);
    const empty = await patch(deployment.id, {});
    expect(empty.status).toBe(200);
    expect(empty.body.data).toEqual(running);
  });

  it('honours If-Match: a stale ETag is 412 and changes nothing, the current one applies', async () => {
    const deployment = await deploy(newService(), 'v1');
    const etag = (await server.call('GET', `/api/v1/deployments/${deployment.id}`)).headers.get('etag')!;
    expect((await patch(deployment.id, { status: 'running' }, { 'if-match': etag })).status).toBe(200);
    const stale = await patch(deployment.id, { status: 'succeeded' }, { 'if-match': etag });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('RES_PRECONDITION_FAILED');
    expect((await get(deployment.id)).status).toBe('running');
    const current = (await server.call('GET', `/api/v1/deployments/${deployment.id}`)).headers.get('etag')!;
    expect((await patch(deployment.id, { status: 'succeeded' }, { 'if-match': current })).body.data.status).toBe('succeeded');
  });
});

describe('rollbacks', () => {
  it('answers 202 with Location: a new pending deployment of the previous version, linked to the original', async () => {
    const { service, second } = await secondRelease();
    await drive(second.id, 'running', 'succeeded');
    const res = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`);
    expect(res.status).toBe(202);
    const accepted = res.body.data;
    expect(accepted).toMatchObject({ deployment_id: second.id, status: 'pending', status_url: `/api/v1/deployments/${accepted.rollback_id}` });
    expect(res.headers.get('location')).toBe(accepted.status_url);
    const rollback = (await server.call('GET', accepted.status_url)).body.data;
    expect(rollback).toMatchObject({
      id: accepted.rollback_id,
      team_id: server.teamId,
      service,
      environment: 'production',
      version: 'v1.0.0',
      previous_version: 'v2.0.0',
      rollback_of: second.id,
      status: 'pending',
      created_by: adminId,
    });
    // The original stays as it is until the rollback succeeds.
    expect((await get(second.id)).status).toBe('succeeded');
  });

  it('turns the original rolled_back when the rollback succeeds; rolled_back is final', async () => {
    const { service, second } = await secondRelease();
    await drive(second.id, 'running', 'succeeded');
    const { rollback_id } = (await server.call('POST', `/api/v1/deployments/${second.id}/rollback`)).body.data;
    await drive(rollback_id, 'running');
    expect((await get(second.id)).status).toBe('succeeded');
    await drive(rollback_id, 'succeeded');
    const original = await get(second.id);
    expect(original.status).toBe('rolled_back');
    expect(Date.parse(original.updated_at)).toBeGreaterThan(Date.parse(second.updated_at));
    // The version live now is the rollback's.
    expect((await deploy(service, 'v3.0.0')).previous_version).toBe('v1.0.0');
    // A rolled-back deployment changes no more, and cannot be rolled back again.
    expect((await patch(second.id, { status: 'running' })).body.error.code).toBe('BIZ_DEPLOYMENT_INVALID_TRANSITION');
    const again = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('BIZ_DEPLOYMENT_NOT_ROLLBACKABLE');
    // The rollback itself is a deployment with a previous version: it can be rolled back in turn.
    const undo = await server.call('POST', `/api/v1/deployments/${rollback_id}/rollback`);
    expect(undo.status).toBe(202);
    expect((await get(undo.body.data.rollback_id)).version).toBe('v2.0.0');
  });

  it('rolls back a failed deployment; a failed rollback leaves the original as it was, to be rolled back again', async () => {
    const { second } = await secondRelease();
    await drive(second.id, 'running', 'failed');
    const first = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`);
    expect(first.status).toBe(202);
    await drive(first.body.data.rollback_id, 'running', 'failed');
    expect((await get(second.id)).status).toBe('failed');
    const retry = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`);
    expect(retry.status).toBe(202);
    await drive(retry.body.data.rollback_id, 'running', 'succeeded');
    expect((await get(second.id)).status).toBe('rolled_back');
  });

  it('refuses pending, running and first deployments with 409 BIZ_DEPLOYMENT_NOT_ROLLBACKABLE', async () => {
    const { first, second } = await secondRelease();
    const pendingRes = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`);
    expect(pendingRes.status).toBe(409);
    expect(pendingRes.body.error.code).toBe('BIZ_DEPLOYMENT_NOT_ROLLBACKABLE');
    await drive(second.id, 'running');
    expect((await server.call('POST', `/api/v1/deployments/${second.id}/rollback`)).body.error.code).toBe('BIZ_DEPLOYMENT_NOT_ROLLBACKABLE');
    // The first deployment succeeded but has no previous version.
    expect((await get(first.id)).previous_version).toBeNull();
    const noPrevious = await server.call('POST', `/api/v1/deployments/${first.id}/rollback`);
    expect(noPrevious.status).toBe(409);
    expect(noPrevious.body.error.code).toBe('BIZ_DEPLOYMENT_NOT_ROLLBACKABLE');
    const rollbacks = await server.database.db.selectFrom('deployments').select('id').where('rollback_of', 'in', [first.id, second.id]).execute();
    expect(rollbacks).toEqual([]);
  });

  it('starts one rollback at a time: another while one is pending or running is 409 BIZ_ROLLBACK_IN_PROGRESS', async () => {
    const { second } = await secondRelease();
    await drive(second.id, 'running', 'succeeded');
    const first = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`);
    expect(first.status).toBe(202);
    const again = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('BIZ_ROLLBACK_IN_PROGRESS');
    await drive(first.body.data.rollback_id, 'running');
    expect((await server.call('POST', `/api/v1/deployments/${second.id}/rollback`)).body.error.code).toBe('BIZ_ROLLBACK_IN_PROGRESS');
  });

  it('of ten racing rollbacks of one deployment, exactly one is accepted', async () => {
    const { second } = await secondRelease();
    await drive(second.id, 'running', 'succeeded');
    const answers = await Promise.all(Array.from({ length: 10 }, () => server.call('POST', `/api/v1/deployments/${second.id}/rollback`)));
    expect(answers.map((a) => a.status).sort()).toEqual([202, ...Array(9).fill(409)]);
    expect(new Set(answers.filter((a) => a.status === 409).map((a) => a.body.error.code))).toEqual(new Set(['BIZ_ROLLBACK_IN_PROGRESS']));
    const rows = await server.database.db.selectFrom('deployments').select('id').where('rollback_of', '=', second.id).execute();
    expect(rows).toHaveLength(1);
  });

  it('replays a rollback with the same Idempotency-Key: one rollback, the same answer', async () => {
    const { second } = await secondRelease();
    await drive(second.id, 'running', 'succeeded');
    const headers = { 'idempotency-key': `rollback-${second.id}` };
    const first = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`, { headers });
    const replay = await server.call('POST', `/api/v1/deployments/${second.id}/rollback`, { headers });
    expect(first.status).toBe(202);
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('location')).toBe(first.headers.get('location'));
    expect(replay.body.data).toEqual(first.body.data);
    const rows = await server.database.db.selectFrom('deployments').select('id').where('rollback_of', '=', second.id).execute();
    expect(rows.map((r) => r.id)).toEqual([first.body.data.rollback_id]);
  });
});

describe('listing deployments', () => {
  it('filters by environment, status, service and creation time, newest first, and pages by cursor', async () => {
    const service = newService();
    const made: Deployment[] = [];
    for (const [environment, status] of [
      ['production', 'succeeded'],
      ['production', 'failed'],
      ['staging', 'succeeded'],
      ['staging', 'pending'],
      ['production', 'running'],
    ] as const) {
      const d = await deploy(service, `v${made.length + 1}`, environment);
      if (status === 'running') await drive(d.id, 'running');
      if (status === 'succeeded' || status === 'failed') await drive(d.id, 'running', status);
      made.push(await get(d.id));
    }
    const list = async (query: string) => {
      const res = await server.call('GET', `/api/v1/deployments?service=${service}&${query}`);
      expect(res.status, res.text).toBe(200);
      return res.body;
    };
    const ids = (body: { data: Deployment[] }) => body.data.map((d) => d.id);
    const all = await list('limit=100');
    expect(ids(all)).toEqual(made.map((d) => d.id).reverse());
    expect(all.pagination).toMatchObject({ mode: 'offset', total: 5 });
    const production = await list('environment=production');
    expect(ids(production)).toEqual([made[4]!.id, made[1]!.id, made[0]!.id]);
    const succeeded = await list('status=succeeded');
    expect(ids(succeeded)).toEqual([made[2]!.id, made[0]!.id]);
    const both = await list('environment=staging&status=succeeded');
    expect(ids(both)).toEqual([made[2]!.id]);
    const oldestFirst = await list('sort=created_at:asc');
    expect(ids(oldestFirst)).toEqual(made.map((d) => d.id));
    const after = await list(`created_after=${encodeURIComponent(made[3]!.created_at)}`);
    expect(ids(after)).toEqual([made[4]!.id, made[3]!.id]);
    const before = await list(`created_before=${encodeURIComponent(made[1]!.created_at)}`);
    expect(ids(before)).toEqual([made[0]!.id]);
    expect(ids(await list(`team_id=${server.teamId}&environment=development`))).toEqual([]);

    const pages: string[] = [];
    let next: string | null = '';
    while (next !== null) {
      const page: { data: Deployment[]; pagination: { mode: string; next_cursor: string | null } } = await list(`limit=2&cursor=${encodeURIComponent(next)}`);
      expect(page.pagination.mode).toBe('cursor');
      pages.push(...ids(page));
      next = page.pagination.next_cursor;
    }
    expect(pages).toEqual(ids(all));
  });

  it('refuses an unknown sort, filter value or parameter with 400', async () => {
    for (const query of ['sort=version:asc', 'environment=qa', 'status=done', 'colour=red']) {
      const res = await server.call('GET', `/api/v1/deployments?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('VAL_INVALID_PARAMETER');
    }
  });
});

describe('team scope and permissions', () => {
  let outsider: TestUser;
  let viewer: TestUser;
  beforeAll(async () => {
    outsider = await createUser(server.url, server.adminToken, 'operator', [], 'deploy-outsider');
    await createTeam(server.url, outsider.token, `Outsiders ${serial}-${Math.random().toString(36).slice(2, 6)}`);
    viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'deploy-viewer');
  });
  const as = (user: TestUser) => (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: bearer(user.token), json });

  it("answers 404 for another team's deployment, exactly as for a missing one, and changes nothing", async () => {
    const { second } = await secondRelease();
    const done = await drive(second.id, 'running', 'succeeded');
    const missing = '0192f2b0-0000-7000-8000-000000000000';
    for (const [method, suffix, json] of [
      ['GET', '', undefined],
      ['PATCH', '', { status: 'failed' }],
      ['POST', '/rollback', undefined],
    ] as const) {
      const theirs = await as(outsider)(method, `/api/v1/deployments/${second.id}${suffix}`, json);
      expect(theirs.status, `${method} ${suffix}`).toBe(404);
      expect(theirs.body.error.code).toBe('RES_NOT_FOUND');
      const none = await as(outsider)(method, `/api/v1/deployments/${missing}${suffix}`, json);
      expect(none.status).toBe(404);
      expect(none.body.error.message.replace(missing, 'ID')).toBe(theirs.body.error.message.replace(second.id, 'ID'));
    }
    expect(await get(second.id)).toEqual(done);
    const listed = await as(outsider)('GET', '/api/v1/deployments?limit=100');
    expect(listed.body.data.filter((d: Deployment) => d.team_id === server.teamId)).toEqual([]);
    expect((await as(outsider)('GET', `/api/v1/deployments?team_id=${server.teamId}`)).body.data).toEqual([]);
  });

  it('goes with its team: deleting a team deletes its deployments, rollbacks included', async () => {
    const teamId = await createTeam(server.url, server.adminToken, `Short-lived ${Math.random().toString(36).slice(2, 8)}`);
    const service = newService();
    const make = async (version: string) => (await server.call('POST', '/api/v1/deployments', { json: { team_id: teamId, service, version, environment: 'production' } })).body.data;
    const v1 = await make('v1');
    await drive(v1.id, 'running', 'succeeded');
    const v2 = await make('v2');
    await drive(v2.id, 'running', 'succeeded');
    expect((await server.call('POST', `/api/v1/deployments/${v2.id}/rollback`)).status).toBe(202);
    expect((await server.call('DELETE', `/api/v1/teams/${teamId}`)).status).toBe(204);
    expect(await server.database.db.selectFrom('deployments').select('id').where('team_id', '=', teamId).execute()).toEqual([]);
    expect((await server.call('GET', `/api/v1/deployments/${v2.id}`)).status).toBe(404);
  });

  it('lets a viewer read deployments but not create, change or roll them back (403)', async () => {
    const deployment = await deploy(newService(), 'v1');
    expect((await as(viewer)('GET', `/api/v1/deployments/${deployment.id}`)).status).toBe(200);
    expect((await as(viewer)('GET', '/api/v1/deployments')).status).toBe(200);
    for (const [method, path, json] of [
      ['POST', '/api/v1/deployments', { service: newService(), version: 'v1', environment: 'production' }],
      ['PATCH', `/api/v1/deployments/${deployment.id}`, { status: 'running' }],
      ['POST', `/api/v1/deployments/${deployment.id}/rollback`, undefined],
    ] as const) {
      const res = await as(viewer)(method, path, json);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe('PERM_DENIED');
    }
    expect((await get(deployment.id)).status).toBe('pending');
  });
});
