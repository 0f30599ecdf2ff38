import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';

let server: TestServer;
const call = (method: string, path: string, options?: Parameters<typeof http>[3]) => server.call(method, path, options);

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('agents CRUD', () => {
  it('creates an agent with 201, Location and defaults, and reads it back', async () => {
    const input = newAgent({ ip_address: '2001:db8:0:0::1', tags: ['web', 'production'] });
    const created = await call('POST', '/api/v1/agents', { json: input });
    expect(created.status).toBe(201);
    const agent = created.body.data;
    expect(created.headers.get('location')).toBe(`/api/v1/agents/${agent.id}`);
    expect(agent).toMatchObject({ hostname: input.hostname, platform: 'linux', status: 'offline', os_version: null, last_seen: null });
    expect(agent.ip_address).toBe('2001:db8::1');
    expect(agent.tags).toEqual(['web', 'production']);
    expect(agent.created_at).toMatch(/Z$/);
    expect(created.body.meta.request_id).toBe(created.headers.get('x-request-id'));

    const fetched = await call('GET', `/api/v1/agents/${agent.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.data).toEqual(agent);
  });

  it('refuses a duplicate hostname regardless of case with 409 RES_ALREADY_EXISTS', async () => {
    const input = newAgent();
    expect((await call('POST', '/api/v1/agents', { json: input })).status).toBe(201);
    const again = await call('POST', '/api/v1/agents', { json: { ...input, hostname: String(input.hostname).toUpperCase() } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('RES_ALREADY_EXISTS');
    expect(again.body.error.details[0].field).toBe('hostname');
  });

  it('replaces every writable field with PUT and keeps id and created_at', async () => {
    const { body } = await call('POST', '/api/v1/agents', { json: newAgent({ os_version: 'Debian 12', tags: ['a'] }) });
    const before = body.data;
    const replacement = { ...newAgent(), platform: 'bsd', os_version: null, agent_version: '3.0.0', status: 'maintenance', tags: [] };
    const replaced = await call('PUT', `/api/v1/agents/${before.id}`, { json: replacement });
    expect(replaced.status).toBe(200);
    expect(replaced.body.data).toMatchObject({ ...replacement, id: before.id, created_at: before.created_at });
    expect(Date.parse(replaced.body.data.updated_at)).toBeGreaterThanOrEqual(Date.parse(before.updated_at));
  });

  it('PUT without every writable field is 422 and changes nothing', async () => {
    const { body } = await call('POST', '/api/v1/agents', { json: newAgent() });
    const partial = await call('PUT', `/api/v1/agents/${body.data.id}`, { json: { hostname: 'x.example.com' } });
    expect(partial.status).toBe(422);
    expect(partial.body.error.code).toBe('VAL_MULTIPLE_ERRORS');
    expect((await call('GET', `/api/v1/agents/${body.data.id}`)).body.data).toEqual(body.data);
  });

  it('PATCH is a JSON merge patch: present fields set, null clears, absent fields stay', async () => {
    const { body } = await call('POST', '/api/v1/agents', { json: newAgent({ os_version: 'Ubuntu 24.04', agent_version: '2.4.1', tags: ['x'] }) });
    const patched = await call('PATCH', `/api/v1/agents/${body.data.id}`, {
      json: { os_version: null, status: 'maintenance' },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ os_version: null, status: 'maintenance', agent_version: '2.4.1', tags: ['x'], hostname: body.data.hostname });
    const empty = await call('PATCH', `/api/v1/agents/${body.data.id}`, { json: {} });
    expect(empty.status).toBe(200);
    expect(empty.body.data).toEqual(patched.body.data);
  });

  it('PATCH of an unknown or read-only field is 422', async () => {
    const { body } = await call('POST', '/api/v1/agents', { json: newAgent() });
    const res = await call('PATCH', `/api/v1/agents/${body.data.id}`, { json: { created_at: '2020-01-01T00:00:00Z' } });
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].field).toBe('created_at');
  });

  it('PATCH to a taken hostname is 409', async () => {
    const a = (await call('POST', '/api/v1/agents', { json: newAgent() })).body.data;
    const b = (await call('POST', '/api/v1/agents', { json: newAgent() })).body.data;
    const res = await call('PATCH', `/api/v1/agents/${b.id}`, { json: { hostname: a.hostname } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('RES_ALREADY_EXISTS');
  });

  it('DELETE answers 204 with no body, then 404', async () => {
    const { body } = await call('POST', '/api/v1/agents', { json: newAgent() });
    const deleted = await call('DELETE', `/api/v1/agents/${body.data.id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const again = await call('DELETE', `/api/v1/agents/${body.data.id}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('RES_NOT_FOUND');
    expect((await call('GET', `/api/v1/agents/${body.data.id}`)).status).toBe(404);
  });
});
