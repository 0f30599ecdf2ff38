// Task templates over HTTP: CRUD with names unique per team, versions (every change makes one, all are listed),
// JSON Schemas compiled by Ajv (422 VAL_INVALID_SCHEMA), If-Match 412, tenancy (another team's template is 404),
// permissions (read with tasks:read, write with tasks:templates), the audit log, and literal paths beside task ids.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../support/http.ts';
import { bearer, createOutsider, createUser, type TestUser } from '../support/identity.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
let outsider: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  ({ outsider } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
});

let serial = 0;
const templateName = (label = 'template') => `${label} ${(serial += 1)} ${Math.random().toString(36).slice(2, 8)}`;

const restartSchema = {
  type: 'object',
  required: ['reason'],
  properties: { command: { const: 'systemctl' }, reason: { type: 'string', minLength: 3, maxLength: 200 } },
};

async function newTemplate(body: Record<string, unknown> = {}) {
  const res = await server.call('POST', '/api/v1/tasks/templates', {
    json: { name: templateName(), action: 'command', defaults: { command: 'systemctl', args: ['restart', 'nginx'] }, parameters_schema: restartSchema, ...body },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string; team_id: string; name: string; version: number; updated_at: string; defaults: Record<string, unknown> };
}

describe('task template CRUD and versions', () => {
  it('creates at version 1 (201 + Location), reads with an ETag, lists, and every change makes a new version', async () => {
    const created = await server.call('POST', '/api/v1/tasks/templates', {
      json: { name: 'Restart nginx', description: 'systemctl restart', action: 'command', defaults: { command: 'systemctl', args: ['restart', 'nginx'] }, parameters_schema: restartSchema },
    });
    expect(created.status, created.text).toBe(201);
    const template = created.body.data;
    expect(template).toMatchObject({ team_id: server.teamId, name: 'Restart nginx', action: 'command', version: 1, parameters_schema: restartSchema });
    expect(created.headers.get('location')).toBe(`/api/v1/tasks/templates/${template.id}`);

    const fetched = await server.call('GET', `/api/v1/tasks/templates/${template.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.data).toEqual(template);
    const etag = fetched.headers.get('etag')!;
    expect(etag).toBeTruthy();
    expect((await server.call('GET', `/api/v1/tasks/templates/${template.id}`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const patched = await server.call('PATCH', `/api/v1/tasks/templates/${template.id}`, {
      json: { description: null, defaults: { command: 'systemctl', args: ['reload', 'nginx'], timeout_seconds: 30 } },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.data).toMatchObject({ version: 2, description: null, defaults: { args: ['reload', 'nginx'], timeout_seconds: 30 }, parameters_schema: restartSchema });
    // A patch that changes nothing makes no version.
    const same = await server.call('PATCH', `/api/v1/tasks/templates/${template.id}`, { json: { description: null } });
    expect(same.body.data).toEqual(patched.body.data);
    await server.call('PATCH', `/api/v1/tasks/templates/${template.id}`, { json: { action: 'reboot', defaults: {}, parameters_schema: {} } });
    expect((await server.call('GET', `/api/v1/tasks/templates/${template.id}`)).body.data).toMatchObject({ version: 3, action: 'reboot', defaults: {} });

    const versions = await server.call('GET', `/api/v1/tasks/templates/${template.id}/versions`);
    expect(versions.status).toBe(200);
    expect(versions.body.data.map((v: { version: number; action: string }) => [v.version, v.action])).toEqual([
      [3, 'reboot'],
      [2, 'command'],
      [1, 'command'],
    ]);
    expect(versions.body.data[2]).toMatchObject({ template_id: template.id, description: 'systemctl restart', defaults: { command: 'systemctl', args: ['restart', 'nginx'] } });
    expect(versions.body.pagination).toMatchObject({ mode: 'offset', total: 3 });
    const oldestFirst = await server.call('GET', `/api/v1/tasks/templates/${template.id}/versions?sort=version:asc&limit=1&cursor=`);
    expect(oldestFirst.body.data.map((v: { version: number }) => v.version)).toEqual([1]);
    expect(oldestFirst.body.pagination.next_cursor).toBeTruthy();
    const next = await server.call('GET', `/api/v1/tasks/templates/${template.id}/versions?sort=version:asc&limit=1&cursor=${encodeURIComponent(oldestFirst.body.pagination.next_cursor)}`);
    expect(next.body.data.map((v: { version: number }) => v.version)).toEqual([2]);

    expect((await server.call('DELETE', `/api/v1/tasks/templates/${template.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/tasks/templates/${template.id}`)).status).toBe(404);
    expect((await server.call('GET', `/api/v1/tasks/templates/${template.id}/versions`)).status).toBe(404);
    expect((await server.call('PATCH', `/api/v1/tasks/templates/${template.id}`, { json: { description: 'back' } })).status).toBe(404);
    expect((await server.call('DELETE', `/api/v1/tasks/templates/${template.id}`)).status).toBe(404);
    // Its name is free again.
    expect((await server.call('POST', '/api/v1/tasks/templates', { json: { name: 'Restart nginx', action: 'reboot' } })).status).toBe(201);
  });

  it('lists by name, filtered by search and action, sorted, paged by cursor, trimmed by fields', async () => {
    const prefix = `Listed ${Math.random().toString(36).slice(2, 8)}`;
    const b = await newTemplate({ name: `${prefix} b` });
    const a = await newTemplate({ name: `${prefix} A`, action: 'reboot', defaults: {}, parameters_schema: {} });
    const c = await newTemplate({ name: `${prefix} c` });
    const search = `search=${encodeURIComponent(prefix)}`;
    const byName = await server.call('GET', `/api/v1/tasks/templates?${search}`);
    expect(byName.status).toBe(200);
    expect(byName.body.data.map((t: { id: string }) => t.id)).toEqual([a.id, b.id, c.id]);
    expect(byName.body.pagination).toMatchObject({ mode: 'offset', total: 3 });
    expect(byName.headers.get('etag')).toBeTruthy();

    const commands = await server.call('GET', `/api/v1/tasks/templates?${search}&action=command&sort=created_at:desc`);
    expect(commands.body.data.map((t: { id: string }) => t.id)).toEqual([c.id, b.id]);

    const page = await server.call('GET', `/api/v1/tasks/templates?${search}&limit=2&cursor=&fields=name,version`);
    expect(page.body.data).toEqual([
      { id: a.id, name: a.name, version: 1 },
      { id: b.id, name: b.name, version: 1 },
    ]);
    const rest = await server.call('GET', `/api/v1/tasks/templates?${search}&limit=2&fields=name,version&cursor=${encodeURIComponent(page.body.pagination.next_cursor)}`);
    expect(rest.body.data.map((t: { id: string }) => t.id)).toEqual([c.id]);

    expect((await server.call('GET', `/api/v1/tasks/templates?action=update-agent`)).status).toBe(400);
    expect((await server.call('GET', `/api/v1/tasks/templates?sort=version:asc`)).status).toBe(400);
  });

  it('keeps names unique per team regardless of case (409), on create and rename', async () => {
    const name = templateName('Unique');
    await newTemplate({ name });
    const dup = await server.call('POST', '/api/v1/tasks/templates', { json: { name: name.toUpperCase(), action: 'reboot' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('RES_ALREADY_EXISTS');
    const other = await newTemplate();
    const renamed = await server.call('PATCH', `/api/v1/tasks/templates/${other.id}`, { json: { name } });
    expect(renamed.status).toBe(409);
    expect((await server.call('GET', `/api/v1/tasks/templates/${other.id}`)).body.data.version).toBe(1);
  });

  it('refuses with 422 VAL_INVALID_SCHEMA a parameters schema Ajv cannot compile, and keeps the template as it was', async () => {
    for (const parameters_schema of [
      { type: 'strin' },
      { type: 'object', properties: { unit: { type: 'string', pattern: '([a-z' } } },
      { $ref: '#/$defs/missing' },
      { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' },
    ]) {
      const res = await server.call('POST', '/api/v1/tasks/templates', { json: { name: templateName('Bad'), action: 'command', parameters_schema } });
      expect(res.status, JSON.stringify(parameters_schema)).toBe(422);
      expect(res.body.error.code).toBe('VAL_INVALID_SCHEMA');
      expect(res.body.error.details[0].field).toBe('parameters_schema');
    }
    const template = await newTemplate();
    const bad = await server.call('PATCH', `/api/v1/tasks/templates/${template.id}`, { json: { parameters_schema: { minLength: -1 } } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('VAL_INVALID_SCHEMA');
    expect((await server.call('GET', `/api/v1/tasks/templates/${template.id}`)).body.data).toMatchObject({ version: 1, parameters_schema: restartSchema });
  });

  it('refuses an unknown action, defaults that are no task parameters, and a schema nested too deep (422)', async () => {
    const action = await server.call('POST', '/api/v1/tasks/templates', { json: { name: templateName(), action: 'update-agent' } });
    expect(action.status).toBe(422);
    const defaults = await server.call('POST', '/api/v1/tasks/templates', { json: { name: templateName(), action: 'reboot', defaults: { force: true } } });
    expect(defaults.status).toBe(422);
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 10; i += 1) deep = { items: deep };
    const tooDeep = await server.call('POST', '/api/v1/tasks/templates', { json: { name: templateName(), action: 'command', parameters_schema: deep } });
    expect(tooDeep.status).toBe(422);
    expect(tooDeep.body.error.details[0].field).toMatch(/^parameters_schema\.items/);
  });

  it('honours If-Match on update and delete: a stale ETag is 412 and changes nothing', async () => {
    const template = await newTemplate();
    const etag = (await server.call('GET', `/api/v1/tasks/templates/${template.id}`)).headers.get('etag')!;
    const first = await server.call('PATCH', `/api/v1/tasks/templates/${template.id}`, { json: { description: 'second' }, headers: { 'if-match': etag } });
    expect(first.status).toBe(200);
    const stale = await server.call('PATCH', `/api/v1/tasks/templates/${template.id}`, { json: { description: 'third' }, headers: { 'if-match': etag } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('RES_PRECONDITION_FAILED');
    expect((await server.call('DELETE', `/api/v1/tasks/templates/${template.id}`, { headers: { 'if-match': etag } })).status).toBe(412);
    expect((await server.call('GET', `/api/v1/tasks/templates/${template.id}`)).body.data).toMatchObject({ version: 2, description: 'second' });
    const fresh = (await server.call('GET', `/api/v1/tasks/templates/${template.id}`)).headers.get('etag')!;
    expect((await server.call('DELETE', `/api/v1/tasks/templates/${template.id}`, { headers: { 'if-match': fresh } })).status).toBe(204);
  });
});

describe('task template tenancy and permissions', () => {
  it("answers 404 for another team's template on every operation, and never lists it", async () => {
    const theirs = await http(server.url, 'POST', '/api/v1/tasks/templates', { headers: bearer(outsider.token), json: { name: templateName('Theirs'), action: 'reboot' } });
    expect(theirs.status, theirs.text).toBe(201);
    const id = theirs.body.data.id as string;
    expect((await server.call('GET', `/api/v1/tasks/templates/${id}`)).status).toBe(404);
    expect((await server.call('GET', `/api/v1/tasks/templates/${id}/versions`)).status).toBe(404);
    expect((await server.call('PATCH', `/api/v1/tasks/templates/${id}`, { json: { description: 'mine now' } })).status).toBe(404);
    expect((await server.call('DELETE', `/api/v1/tasks/templates/${id}`)).status).toBe(404);
    expect((await server.call('GET', `/api/v1/tasks/templates?search=Theirs`)).body.data).toEqual([]);
    expect((await server.call('GET', `/api/v1/tasks/templates/${randomUUID()}`)).status).toBe(404);
    const still = await http(server.url, 'GET', `/api/v1/tasks/templates/${id}`, { headers: bearer(outsider.token) });
    expect(still.body.data).toMatchObject({ version: 1, description: null });
  });

  it('lets a viewer read templates (tasks:read) but not write them (tasks:templates)', async () => {
    const template = await newTemplate();
    const viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'viewer');
    const as = (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: bearer(viewer.token), json });
    expect((await as('GET', `/api/v1/tasks/templates/${template.id}`)).status).toBe(200);
    expect((await as('GET', `/api/v1/tasks/templates/${template.id}/versions`)).status).toBe(200);
    for (const [method, path, json] of [
      ['POST', '/api/v1/tasks/templates', { name: templateName(), action: 'reboot' }],
      ['PATCH', `/api/v1/tasks/templates/${template.id}`, { description: 'no' }],
      ['DELETE', `/api/v1/tasks/templates/${template.id}`, undefined],
    ] as const) {
      const denied = await as(method, path, json);
      expect(denied.status, `${method} ${path}`).toBe(403);
      expect(denied.body.error.code).toBe('PERM_DENIED');
    }
    const operator = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'operator');
    const made = await http(server.url, 'POST', '/api/v1/tasks/templates', { headers: bearer(operator.token), json: { name: templateName(), action: 'shutdown' } });
    expect(made.status).toBe(201);
  });

  it('records every write in the audit log', async () => {
    const template = await newTemplate();
    await server.call('PATCH', `/api/v1/tasks/templates/${template.id}`, { json: { description: 'audited' } });
    await server.call('DELETE', `/api/v1/tasks/templates/${template.id}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const audit = await server.call('GET', `/api/v1/admin/audit?target_id=${template.id}`);
    expect(audit.body.data.map((e: { operation_id: string; outcome: string }) => `${e.operation_id}:${e.outcome}`)).toEqual([
      'deleteTaskTemplate:success',
      'updateTaskTemplate:success',
      'createTaskTemplate:success',
    ]);
  });

  it('routes /api/v1/tasks/templates beside task ids: the literal path is a template list, an id is a task', async () => {
    expect((await server.call('GET', '/api/v1/tasks/templates')).body.pagination).toBeTruthy();
    const task = await server.call('GET', `/api/v1/tasks/${randomUUID()}`);
    expect(task.status).toBe(404);
    expect(task.body.error.message).toMatch(/^Task [0-9a-f-]{36} not found/);
  });
});
