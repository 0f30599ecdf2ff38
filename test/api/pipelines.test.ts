// Pipelines: CRUD with unique names per team and If-Match, lists, numbered runs that only active pipelines
// take and whose status the pipeline's `last_run_status` follows, the bulk update whose `matched` and
// `updated` are proven against the database, and team scope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http } from '../support/http.ts';
import { bearer, createTeam, createUser, type TestUser } from '../support/identity.ts';

let server: TestServer;
let outsider: TestUser;
let outsiderTeam: string;
let viewer: TestUser;
beforeAll(async () => {
  server = await startTestServer();
  outsider = await createUser(server.url, server.adminToken, 'operator', [], 'pipeline-outsider');
  outsiderTeam = await createTeam(server.url, outsider.token, 'Pipeline outsiders');
  viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'pipeline-viewer');
});
afterAll(async () => {
  await server?.close();
});

type Pipeline = Record<string, any> & { id: string; name: string; status: string };
let serial = 0;
const uniqueName = (label = 'build') => `${label} ${process.pid}-${(serial += 1)}-${Math.random().toString(36).slice(2, 6)}`;
const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';
const as = (user: TestUser) => (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: bearer(user.token), json });

async function create(fields: Record<string, unknown> = {}, caller?: TestUser): Promise<Pipeline> {
  const json = { name: uniqueName(), repository: 'github.com/opsdeck/api-gateway', ...fields };
  const res = caller ? await as(caller)('POST', '/api/v1/pipelines', json) : await server.call('POST', '/api/v1/pipelines', { json });
  expect(res.status, res.text).toBe(201);
  return res.body.data;
}
const get = async (id: string): Promise<Pipeline> => (await server.call('GET', `/api/v1/pipelines/${id}`)).body.data;
const startRun = (id: string, commit_sha = SHA) => server.call('POST', `/api/v1/pipelines/${id}/runs`, { json: { commit_sha } });
const patchRun = (pipelineId: string, runId: string, status: string) => server.call('PATCH', `/api/v1/pipelines/${pipelineId}/runs/${runId}`, { json: { status } });
const bulk = (json: unknown, caller?: TestUser) =>
  caller ? as(caller)('PATCH', '/api/v1/pipelines/bulk', json) : server.call('PATCH', '/api/v1/pipelines/bulk', { json });

describe('pipelines CRUD', () => {
  it('creates with defaults, 201 and Location, and reads it back', async () => {
    const name = uniqueName();
    const res = await server.call('POST', '/api/v1/pipelines', { json: { name, repository: 'github.com/opsdeck/web' } });
    expect(res.status).toBe(201);
    const pipeline = res.body.data;
    expect(res.headers.get('location')).toBe(`/api/v1/pipelines/${pipeline.id}`);
    expect(pipeline).toMatchObject({ team_id: server.teamId, name, repository: 'github.com/opsdeck/web', branch: 'main', status: 'active', last_run_status: null });
    expect(await get(pipeline.id)).toEqual(pipeline);
  });

  it('keeps names unique within a team regardless of case (409), not across teams', async () => {
    const pipeline = await create();
    const again = await server.call('POST', '/api/v1/pipelines', { json: { name: pipeline.name.toUpperCase(), repository: 'github.com/opsdeck/other' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('RES_ALREADY_EXISTS');
    expect(again.body.error.details[0].field).toBe('name');
    await create({ name: pipeline.name }, outsider);
    const other = await create();
    const renamed = await server.call('PATCH', `/api/v1/pipelines/${other.id}`, { json: { name: pipeline.name } });
    expect(renamed.status).toBe(409);
    expect(renamed.body.error.code).toBe('RES_ALREADY_EXISTS');
  });

  it('refuses invalid input with 422', async () => {
    for (const json of [
      { name: '', repository: 'github.com/x/y' },
      { name: uniqueName(), repository: 'has spaces' },
      { name: uniqueName(), repository: 'github.com/x/y', status: 'running' },
      { name: uniqueName(), repository: 'github.com/x/y', branch: 'bad branch' },
      { name: uniqueName() },
      { name: uniqueName(), repository: 'github.com/x/y', last_run_status: 'succeeded' },
    ]) {
      const res = await server.call('POST', '/api/v1/pipelines', { json });
      expect(res.status, JSON.stringify(json)).toBe(422);
    }
  });

  it('updates by merge patch, and an empty patch changes nothing', async () => {
    const pipeline = await create();
    const res = await server.call('PATCH', `/api/v1/pipelines/${pipeline.id}`, { json: { status: 'paused', branch: 'release/2.0' } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: pipeline.id, name: pipeline.name, repository: pipeline.repository, status: 'paused', branch: 'release/2.0' });
    expect(Date.parse(res.body.data.updated_at)).toBeGreaterThanOrEqual(Date.parse(pipeline.updated_at));
    const empty = await server.call('PATCH', `/api/v1/pipelines/${pipeline.id}`, { json: {} });
    expect(empty.body.data).toEqual(res.body.data);
  });

  it('honours If-Match on PATCH and DELETE: 412 for a stale ETag, changes nothing', async () => {
    const pipeline = await create();
    const etag = (await server.call('GET', `/api/v1/pipelines/${pipeline.id}`)).headers.get('etag')!;
    const first = await server.call('PATCH', `/api/v1/pipelines/${pipeline.id}`, { json: { status: 'paused' }, headers: { 'if-match': etag } });
    expect(first.status).toBe(200);
    const stale = await server.call('PATCH', `/api/v1/pipelines/${pipeline.id}`, { json: { status: 'disabled' }, headers: { 'if-match': etag } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('RES_PRECONDITION_FAILED');
    const staleDelete = await server.call('DELETE', `/api/v1/pipelines/${pipeline.id}`, { headers: { 'if-match': etag } });
    expect(staleDelete.status).toBe(412);
    expect((await get(pipeline.id)).status).toBe('paused');
    const current = (await server.call('GET', `/api/v1/pipelines/${pipeline.id}`)).headers.get('etag')!;
    expect((await server.call('DELETE', `/api/v1/pipelines/${pipeline.id}`, { headers: { 'if-match': current } })).status).toBe(204);
  });

  it('deletes a pipeline with its runs; it is then 404', async () => {
    const pipeline = await create();
    await startRun(pipeline.id);
    await startRun(pipeline.id);
    expect((await server.call('DELETE', `/api/v1/pipelines/${pipeline.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/pipelines/${pipeline.id}`)).status).toBe(404);
    expect((await server.call('DELETE', `/api/v1/pipelines/${pipeline.id}`)).status).toBe(404);
    const runs = await server.database.db.selectFrom('pipeline_runs').select('id').where('pipeline_id', '=', pipeline.id).execute();
    expect(runs).toEqual([]);
  });
});

describe('listing pipelines', () => {
  it('filters by status, team and search of name or repository, sorts, and pages by cursor', async () => {
    const tag = `lst${Math.random().toString(36).slice(2, 8)}`;
    const a = await create({ name: `${tag} alpha`, repository: 'github.com/opsdeck/alpha' });
    const b = await create({ name: `${tag} beta`, repository: 'github.com/opsdeck/beta', status: 'paused' });
    const c = await create({ name: `zeta ${tag.slice(3)}`, repository: `github.com/opsdeck/${tag}-zeta`, status: 'disabled' });
    await create({ name: `${tag} theirs`, repository: 'github.com/outsiders/x' }, outsider);
    const list = async (query: string) => {
      const res = await server.call('GET', `/api/v1/pipelines?${query}`);
      expect(res.status, res.text).toBe(200);
      return res.body;
    };
    const ids = (body: { data: Pipeline[] }) => body.data.map((p) => p.id);
    expect(ids(await list(`search=${tag}`))).toEqual([c.id, b.id, a.id]);
    expect(ids(await list(`search=${tag}&sort=name:asc`))).toEqual([a.id, b.id, c.id]);
    expect(ids(await list(`search=${tag}&status=paused`))).toEqual([b.id]);
    expect(ids(await list(`search=${tag.toUpperCase()}&team_id=${server.teamId}&sort=created_at:asc`))).toEqual([a.id, b.id, c.id]);
    expect(ids(await list(`search=${tag}&team_id=${outsiderTeam}`))).toEqual([]);
    const pages: string[] = [];
    let next: string | null = '';
    while (next !== null) {
      const page: { data: Pipeline[]; pagination: { next_cursor: string | null } } = await list(`search=${tag}&sort=status:asc,name:desc&limit=1&cursor=${encodeURIComponent(next)}`);
      pages.push(...ids(page));
      next = page.pagination.next_cursor;
    }
    // status ascending (active, disabled, paused), then name descending.
    expect(pages).toEqual([a.id, c.id, b.id]);
    for (const query of ['sort=repository:asc', 'status=running', 'colour=red']) {
      expect((await server.call('GET', `/api/v1/pipelines?${query}`)).status, query).toBe(400);
    }
  });
});

describe('pipeline runs', () => {
  it('numbers runs 1, 2, 3 with 201 and Location; the pipeline shows its latest run status', async () => {
    const pipeline = await create();
    const first = await startRun(pipeline.id);
    expect(first.status).toBe(201);
    const run = first.body.data;
    expect(first.headers.get('location')).toBe(`/api/v1/pipelines/${pipeline.id}/runs/${run.id}`);
    expect(run).toMatchObject({ pipeline_id: pipeline.id, team_id: server.teamId, number: 1, status: 'queued', commit_sha: SHA, started_at: null, finished_at: null, duration_seconds: null });
    expect((await server.call('GET', `/api/v1/pipelines/${pipeline.id}/runs/${run.id}`)).body.data).toEqual(run);
    const after = await get(pipeline.id);
    expect(after.last_run_status).toBe('queued');
    expect(Date.parse(after.updated_at)).toBeGreaterThanOrEqual(Date.parse(pipeline.updated_at));
    expect((await startRun(pipeline.id, 'abcdef1')).body.data.number).toBe(2);
    expect((await startRun(pipeline.id)).body.data.number).toBe(3);
    const listed = await server.call('GET', `/api/v1/pipelines/${pipeline.id}/runs`);
    expect(listed.body.data.map((r: { number: number }) => r.number)).toEqual([3, 2, 1]);
    const ascending = await server.call('GET', `/api/v1/pipelines/${pipeline.id}/runs?sort=number:asc&limit=2`);
    expect(ascending.body.data.map((r: { number: number }) => r.number)).toEqual([1, 2]);
    expect(ascending.body.pagination).toMatchObject({ total: 3, has_next: true });
  });

  it('gives racing runs distinct consecutive numbers', async () => {
    const pipeline = await create();
    const answers = await Promise.all(Array.from({ length: 10 }, () => startRun(pipeline.id)));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(answers.map((a) => a.body.data.number).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('refuses runs of paused and disabled pipelines with 409 BIZ_PIPELINE_NOT_ACTIVE', async () => {
    for (const status of ['paused', 'disabled']) {
      const pipeline = await create({ status });
      const res = await startRun(pipeline.id);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('BIZ_PIPELINE_NOT_ACTIVE');
      expect((await get(pipeline.id)).last_run_status).toBeNull();
    }
    const bad = await startRun((await create()).id, 'not-a-sha');
    expect(bad.status).toBe(422);
  });

  it('moves runs queued → running → succeeded | failed, or cancelled, with timings; others are 409', async () => {
    const pipeline = await create();
    const run = (await startRun(pipeline.id)).body.data;
    const running = (await patchRun(pipeline.id, run.id, 'running')).body.data;
    expect(running.started_at).not.toBeNull();
    expect((await get(pipeline.id)).last_run_status).toBe('running');
    const done = (await patchRun(pipeline.id, run.id, 'succeeded')).body.data;
    expect(done).toMatchObject({ status: 'succeeded', started_at: running.started_at });
    expect(done.duration_seconds).toBe(Math.floor((Date.parse(done.finished_at) - Date.parse(done.started_at)) / 1000));
    expect((await get(pipeline.id)).last_run_status).toBe('succeeded');
    for (const status of ['running', 'failed', 'cancelled']) {
      const res = await patchRun(pipeline.id, run.id, status);
      expect(res.status, `succeeded → ${status}`).toBe(409);
      expect(res.body.error.code).toBe('BIZ_PIPELINE_RUN_INVALID_TRANSITION');
    }
    expect((await patchRun(pipeline.id, run.id, 'succeeded')).body.data).toEqual(done);

    const queued = (await startRun(pipeline.id)).body.data;
    expect((await patchRun(pipeline.id, queued.id, 'succeeded')).body.error.code).toBe('BIZ_PIPELINE_RUN_INVALID_TRANSITION');
    const cancelled = (await patchRun(pipeline.id, queued.id, 'cancelled')).body.data;
    expect(cancelled).toMatchObject({ status: 'cancelled', started_at: null, duration_seconds: null });
    expect(cancelled.finished_at).not.toBeNull();
    expect((await get(pipeline.id)).last_run_status).toBe('cancelled');
  });

  it('keeps last_run_status on the latest run: an older run finishing does not change it', async () => {
    const pipeline = await create();
    const older = (await startRun(pipeline.id)).body.data;
    await patchRun(pipeline.id, older.id, 'running');
    const latest = (await startRun(pipeline.id)).body.data;
    await patchRun(pipeline.id, older.id, 'failed');
    expect((await get(pipeline.id)).last_run_status).toBe('queued');
    await patchRun(pipeline.id, latest.id, 'running');
    expect((await get(pipeline.id)).last_run_status).toBe('running');
    const failedOnly = await server.call('GET', `/api/v1/pipelines/${pipeline.id}/runs?status=failed`);
    expect(failedOnly.body.data.map((r: { id: string }) => r.id)).toEqual([older.id]);
  });

  it("answers 404 for a run of another pipeline", async () => {
    const one = await create();
    const other = await create();
    const run = (await startRun(one.id)).body.data;
    expect((await server.call('GET', `/api/v1/pipelines/${other.id}/runs/${run.id}`)).status).toBe(404);
    expect((await patchRun(other.id, run.id, 'running')).status).toBe(404);
    expect((await server.call('GET', `/api/v1/pipelines/${one.id}/runs/${run.id}`)).body.data.status).toBe('queued');
  });
});

describe('bulk update', () => {
  /** The caller-team pipelines whose name contains `tag`, straight from the database. */
  const rowsOf = (tag: string) =>
    server.database.db.selectFrom('pipelines').select(['id', 'team_id', 'status', 'updated_at']).where('name', 'like', `%${tag}%`).orderBy('id').execute();

  it('answers matched and updated as the database sees them, and touches only the rows that change', async () => {
    const tag = `blk${Math.random().toString(36).slice(2, 8)}`;
    const mine = [];
    for (const status of ['active', 'active', 'active', 'paused', 'disabled']) mine.push(await create({ name: `${tag} ${mine.length}`, status }));
    const theirs = await create({ name: `${tag} theirs`, status: 'active' }, outsider);
    const before = await rowsOf(tag);

    // Pause everything of ours whose name has the tag: 5 match, 4 change (one is already paused).
    const res = await bulk({ filter: { name_contains: tag }, set: { status: 'paused' } });
    expect(res.status, res.text).toBe(200);
    const after = await rowsOf(tag);
    const changed = after.filter((row) => before.find((b) => b.id === row.id)!.status !== row.status);
    const matchedInDb = after.filter((row) => row.team_id === server.teamId);
    expect(res.body.data).toEqual({ matched: matchedInDb.length, updated: changed.length });
    expect(res.body.data).toEqual({ matched: 5, updated: 4 });
    expect(matchedInDb.every((row) => row.status === 'paused')).toBe(true);
    // The already-paused one kept its version; the outsiders' pipeline was not touched at all.
    const untouched = [mine[3]!.id, theirs.id];
    for (const id of untouched) expect(after.find((r) => r.id === id)).toEqual(before.find((r) => r.id === id));
    expect(after.find((r) => r.id === theirs.id)!.status).toBe('active');
    for (const row of changed) expect(row.updated_at.getTime()).toBeGreaterThan(before.find((b) => b.id === row.id)!.updated_at.getTime());

    // Again: everything matches, nothing changes.
    const again = await bulk({ filter: { name_contains: tag }, set: { status: 'paused' } });
    expect(again.body.data).toEqual({ matched: 5, updated: 0 });
    expect(await rowsOf(tag)).toEqual(after);
  });

  it('combines filter conditions, and a team_id that is not the caller’s matches nothing', async () => {
    const tag = `cmb${Math.random().toString(36).slice(2, 8)}`;
    for (const status of ['active', 'paused', 'paused']) await create({ name: `${tag} ${status} ${Math.random()}`, status });
    const theirs = await create({ name: `${tag} theirs`, status: 'paused' }, outsider);
    const res = await bulk({ filter: { name_contains: tag, status: 'paused', team_id: server.teamId }, set: { status: 'active' } });
    expect(res.body.data).toEqual({ matched: 2, updated: 2 });
    expect((await rowsOf(tag)).filter((r) => r.team_id === server.teamId).map((r) => r.status)).toEqual(['active', 'active', 'active']);
    const foreign = await bulk({ filter: { team_id: outsiderTeam }, set: { status: 'disabled' } });
    expect(foreign.body.data).toEqual({ matched: 0, updated: 0 });
    // As the outsider, only the outsider's own pipeline matches.
    const asThem = await bulk({ filter: { name_contains: tag }, set: { status: 'disabled' } }, outsider);
    expect(asThem.body.data).toEqual({ matched: 1, updated: 1 });
    const rows = await rowsOf(tag);
    expect(rows.find((r) => r.id === theirs.id)!.status).toBe('disabled');
    expect(rows.filter((r) => r.team_id === server.teamId).every((r) => r.status === 'active')).toBe(true);
  });

  it('reads name_contains literally (% and _ are not wildcards)', async () => {
    const tag = `lit${Math.random().toString(36).slice(2, 8)}`;
    await create({ name: `${tag} 100% green` });
    await create({ name: `${tag} 100 green` });
    const res = await bulk({ filter: { name_contains: `${tag} 100%` }, set: { status: 'paused' } });
    expect(res.body.data).toEqual({ matched: 1, updated: 1 });
    const underscore = await bulk({ filter: { name_contains: `${tag}_100` }, set: { status: 'paused' } });
    expect(underscore.body.data).toEqual({ matched: 0, updated: 0 });
  });

  it('requires an explicit filter and a status to set (422), and changes nothing then', async () => {
    const tag = `req${Math.random().toString(36).slice(2, 8)}`;
    await create({ name: tag });
    const before = await rowsOf(tag);
    for (const json of [
      { filter: {}, set: { status: 'paused' } },
      { set: { status: 'paused' } },
      { filter: { name_contains: tag } },
      { filter: { name_contains: tag }, set: {} },
      { filter: { name_contains: tag }, set: { status: 'running' } },
      { filter: { name_contains: tag, colour: 'red' }, set: { status: 'paused' } },
      { filter: { name_contains: tag }, set: { status: 'paused', name: 'x' } },
    ]) {
      const res = await bulk(json);
      expect(res.status, JSON.stringify(json)).toBe(422);
    }
    expect(await rowsOf(tag)).toEqual(before);
  });

  it('is routed to the bulk operation, not to updatePipeline with id "bulk"', async () => {
    const res = await bulk({ filter: { status: 'disabled', name_contains: 'no-such-pipeline-name' }, set: { status: 'active' } });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ matched: 0, updated: 0 });
    // The audit log (written once the answer is sent) names the operation the request was bound to.
    const requestId = res.headers.get('x-request-id');
    await expect
      .poll(async () => (await server.call('GET', '/api/v1/admin/audit?operation_id=updatePipelines&limit=1')).body.data[0], { timeout: 5_000, interval: 100 })
      .toMatchObject({ request_id: requestId, operation_id: 'updatePipelines', method: 'PATCH', path: '/api/v1/pipelines/bulk', status: 200 });
  });

  it('needs pipelines:write (a viewer gets 403)', async () => {
    const res = await bulk({ filter: { status: 'active' }, set: { status: 'paused' } }, viewer);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('PERM_DENIED');
  });
});

describe('team scope and permissions', () => {
  it("answers 404 for another team's pipeline and its runs, exactly as for missing ones, and changes nothing", async () => {
    const pipeline = await create();
    const run = (await startRun(pipeline.id)).body.data;
    const before = await get(pipeline.id);
    const missing = '0192f3a0-0000-7000-8000-000000000000';
    for (const [method, suffix, json] of [
      ['GET', '', undefined],
      ['PATCH', '', { status: 'disabled' }],
      ['DELETE', '', undefined],
      ['GET', '/runs', undefined],
      ['POST', '/runs', { commit_sha: SHA }],
      ['GET', `/runs/${run.id}`, undefined],
      ['PATCH', `/runs/${run.id}`, { status: 'running' }],
    ] as const) {
      const theirs = await as(outsider)(method, `/api/v1/pipelines/${pipeline.id}${suffix}`, json);
      expect(theirs.status, `${method} ${suffix}`).toBe(404);
      expect(theirs.body.error.code).toBe('RES_NOT_FOUND');
      const none = await as(outsider)(method, `/api/v1/pipelines/${missing}${suffix}`, json);
      expect(none.status).toBe(404);
      expect(none.body.error.message.replace(missing, 'ID')).toBe(theirs.body.error.message.replace(pipeline.id, 'ID'));
    }
    expect(await get(pipeline.id)).toEqual(before);
    expect((await server.call('GET', `/api/v1/pipelines/${pipeline.id}/runs`)).body.data).toEqual([run]);
    const listed = await as(outsider)('GET', '/api/v1/pipelines?limit=100');
    expect(listed.body.data.filter((p: Pipeline) => p.team_id === server.teamId)).toEqual([]);
    const foreign = await as(outsider)('POST', '/api/v1/pipelines', { name: uniqueName(), repository: 'github.com/x/y', team_id: server.teamId });
    expect(foreign.status).toBe(404);
  });

  it('goes with its team: deleting a team deletes its pipelines and their runs', async () => {
    const teamId = await createTeam(server.url, server.adminToken, `Short-lived ${Math.random().toString(36).slice(2, 8)}`);
    const pipeline = await create({ team_id: teamId });
    await startRun(pipeline.id);
    expect((await server.call('DELETE', `/api/v1/teams/${teamId}`)).status).toBe(204);
    expect(await server.database.db.selectFrom('pipelines').select('id').where('team_id', '=', teamId).execute()).toEqual([]);
    expect(await server.database.db.selectFrom('pipeline_runs').select('id').where('pipeline_id', '=', pipeline.id).execute()).toEqual([]);
  });

  it('lets a viewer read pipelines and runs but not change them (403)', async () => {
    const pipeline = await create();
    const run = (await startRun(pipeline.id)).body.data;
    for (const path of [`/api/v1/pipelines/${pipeline.id}`, '/api/v1/pipelines', `/api/v1/pipelines/${pipeline.id}/runs`, `/api/v1/pipelines/${pipeline.id}/runs/${run.id}`]) {
      expect((await as(viewer)('GET', path)).status, path).toBe(200);
    }
    for (const [method, path, json] of [
      ['POST', '/api/v1/pipelines', { name: uniqueName(), repository: 'github.com/x/y' }],
      ['PATCH', `/api/v1/pipelines/${pipeline.id}`, { status: 'paused' }],
      ['DELETE', `/api/v1/pipelines/${pipeline.id}`, undefined],
      ['POST', `/api/v1/pipelines/${pipeline.id}/runs`, { commit_sha: SHA }],
      ['PATCH', `/api/v1/pipelines/${pipeline.id}/runs/${run.id}`, { status: 'running' }],
    ] as const) {
      const res = await as(viewer)(method, path, json);
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    expect(await get(pipeline.id)).toMatchObject({ status: 'active', last_run_status: 'queued' });
  });
});
