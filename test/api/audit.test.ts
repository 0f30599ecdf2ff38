// Every mutating request is in the audit log with actor, operation, target, request id, outcome and
// time; the log filters and pages like every list.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createUser, type TestUser } from '../support/identity.ts';

let server: TestServer;
let viewer: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId]);
});
afterAll(async () => {
  await server?.close();
});

const audit = async (query: string) => {
  // Recording happens once the answer is sent; give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const res = await server.call('GET', `/api/v1/admin/audit?${query}`);
  expect(res.status).toBe(200);
  return res.body;
};

describe('audit log', () => {
  it('records a change with its actor, operation, target, team, request id and outcome', async () => {
    const created = await server.call('POST', '/api/v1/agents', { json: newAgent(), headers: { 'x-request-id': 'audit-create-1' } });
    const agentId = created.body.data.id;
    await server.call('PATCH', `/api/v1/agents/${agentId}`, { json: { status: 'maintenance' } });
    const { data } = await audit(`target_id=${agentId}`);
    expect(data.map((e: { operation_id: string }) => e.operation_id)).toEqual(['updateAgent', 'createAgent']);
    const create = data[1];
    expect(create).toMatchObject({
      method: 'POST',
      path: '/api/v1/agents',
      target_id: agentId,
      team_id: server.teamId,
      request_id: 'audit-create-1',
      outcome: 'success',
      status: 201,
      error_code: null,
      actor: { email: 'admin@test.example.com', api_key_id: null },
    });
    expect(create.actor.user_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('records refused requests and failed logins, without passwords', async () => {
    await http(server.url, 'POST', '/api/v1/agents', { json: newAgent(), headers: bearer(viewer.token) });
    await http(server.url, 'POST', '/api/v1/auth/login', { json: { email: 'ghost@test.example.com', password: 'super-secret-guess' } });
    const denied = await audit(`actor_id=${viewer.id}&outcome=failure`);
    expect(denied.data[0]).toMatchObject({ operation_id: 'createAgent', status: 403, error_code: 'PERM_DENIED', outcome: 'failure' });
    const logins = await audit('operation_id=login&outcome=failure');
    expect(logins.data[0]).toMatchObject({ status: 401, error_code: 'AUTH_INVALID_CREDENTIALS', actor: { user_id: null, email: 'ghost@test.example.com' } });
    expect(JSON.stringify(logins)).not.toContain('super-secret-guess');
  });

  it('does not record reads', async () => {
    const agent = (await server.call('POST', '/api/v1/agents', { json: newAgent() })).body.data;
    await server.call('GET', `/api/v1/agents/${agent.id}`);
    const { data } = await audit(`target_id=${agent.id}`);
    expect(data.map((e: { operation_id: string }) => e.operation_id)).toEqual(['createAgent']);
  });

  it('pages by offset and by cursor, newest first, and filters by time', async () => {
    const all = await audit('limit=100');
    expect(all.pagination.total).toBeGreaterThanOrEqual(5);
    const times = all.data.map((e: { at: string }) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    const ids: string[] = [];
    let path: string | null = '/api/v1/admin/audit?limit=2&cursor=';
    while (path) {
      const page = await server.call('GET', path);
      ids.push(...page.body.data.map((e: { id: string }) => e.id));
      path = page.body.pagination.links.next;
    }
    expect(ids.slice(0, all.data.length)).toEqual(all.data.map((e: { id: string }) => e.id));
    const future = await audit(`created_after=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(future.data).toEqual([]);
  });

  it("records enrolments but not an agent's own telemetry (x-audit: false)", async () => {
    const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'audit' } })).body.data.secret;
    const enrolled = (await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent() } })).body.data;
    expect((await http(server.url, 'POST', '/api/v1/agent/heartbeat', { headers: { 'x-api-key': enrolled.agent_key } })).status).toBe(200);
    expect((await audit('operation_id=enrollAgent')).data.length).toBe(1);
    expect((await audit('operation_id=agentHeartbeat')).data).toEqual([]);
  });

  it('is for administrators only', async () => {
    const res = await http(server.url, 'GET', '/api/v1/admin/audit', { headers: bearer(viewer.token) });
    expect(res.status).toBe(403);
  });
});
