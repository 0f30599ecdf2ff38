// Walks every operation of the bundled spec. Permissions: each operation is either deliberately
// public or requires exactly one permission, and the server enforces exactly that (401 without
// credentials, 403 without the permission). Tenancy: every operation that takes an id answers 404
// for another team's resource, exactly as for one that does not exist, and changes nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requiredPermissions } from '../../server/auth/permissions.ts';
import { operationsById } from '../../server/contract.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createTeam, createUser, type TestUser } from '../support/identity.ts';

/** The operations meant to need no credentials; anything else public is a mistake. */
const DELIBERATELY_PUBLIC = ['login', 'refreshToken', 'logout', 'getLiveness', 'getReadiness', 'getSystemVersion', 'enrollAgent'];

let server: TestServer;
let outsider: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  outsider = await createUser(server.url, server.adminToken, 'operator', [], 'outsider');
  await createTeam(server.url, outsider.token, 'Outsiders');
});
afterAll(async () => {
  await server?.close();
});

function pathOf(template: string, ids: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => ids[name] ?? randomUUID());
}

describe('permission walk', () => {
  it('every operation says whether it is public, and requires one known permission otherwise', () => {
    const publicOps: string[] = [];
    for (const [operationId, info] of operationsById) {
      const security = info.operation.security;
      expect(security, `${operationId} declares security`).toBeDefined();
      if (security!.length === 0) {
        publicOps.push(operationId);
        continue;
      }
      const permission = requiredPermissions.get(operationId);
      expect(permission, operationId).toBeTruthy();
      for (const requirement of security!) {
        for (const scopes of Object.values(requirement)) expect(scopes, operationId).toEqual([permission]);
      }
    }
    expect(publicOps.sort()).toEqual([...DELIBERATELY_PUBLIC].sort());
  });

  it('every protected operation answers 401 without credentials and 403 without its permission', async () => {
    const keyFor = async (scope: string) => {
      const res = await server.call('POST', '/api/v1/api-keys', { json: { name: `only ${scope}`, scopes: [scope] } });
      expect(res.status).toBe(201);
      return res.body.data.secret as string;
    };
    const onlyProfile = await keyFor('profile:read');
    const onlyKeys = await keyFor('apikeys:read');
    let walked = 0;
    for (const [operationId, info] of operationsById) {
      const permission = requiredPermissions.get(operationId);
      if (!permission) continue;
      const path = pathOf(info.path, {});
      const method = info.method.toUpperCase();
      const anonymous = await http(server.url, method, path);
      expect(anonymous.status, `${operationId} without credentials`).toBe(401);
      expect(anonymous.body.error.code).toBe('AUTH_REQUIRED');
      const key = permission === 'profile:read' ? onlyKeys : onlyProfile;
      const denied = await http(server.url, method, path, { headers: { 'x-api-key': key } });
      expect(denied.status, `${operationId} without ${permission}`).toBe(403);
      expect(denied.body.error.code).toBe('PERM_DENIED');
      expect(denied.body.error.message).toContain(permission);
      walked += 1;
    }
    expect(walked).toBe(operationsById.size - DELIBERATELY_PUBLIC.length);
  });
});

describe('tenant isolation walk', () => {
  it("every operation that takes an id answers 404 for another team's resource, and changes nothing", async () => {
    const agent = (await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'online' }) })).body.data;
    const key = (await server.call('POST', '/api/v1/api-keys', { json: { name: 'mine', scopes: ['agents:read'] } })).body.data;
    const member = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'member');
    const task = (await server.call('POST', `/api/v1/agents/${agent.id}/actions/reboot`, { json: {} })).body.data;
    const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'insiders' } })).body.data;
    const ids = { agent_id: agent.id, team_id: server.teamId, api_key_id: key.id, user_id: member.id, task_id: task.task_id, token_id: token.id };
    // An agent of the outsiders' team, to try the agent protocol on the insiders' task.
    const outsiderTeam = (await http(server.url, 'GET', '/api/v1/teams', { headers: bearer(outsider.token) })).body.data[0].id;
    const outsiderToken = (await http(server.url, 'POST', `/api/v1/teams/${outsiderTeam}/enrollment-tokens`, { headers: bearer(outsider.token), json: { name: 'outsiders' } })).body.data.secret;
    const outsiderAgent = (await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: outsiderToken, ...newAgent() } })).body.data.agent_key;
    const replacement = { ...newAgent(), os_version: null, agent_version: null, status: 'online', tags: [] };

    // How the outsider tries each operation on the insiders' resources.
    const attempts: Record<string, { body?: unknown; asAgent?: boolean }> = {
      rebootAgent: { body: {} },
      shutdownAgent: { body: {} },
      updateAgentSoftware: { body: { version: '9.9.9' } },
      runAgentCommand: { body: { command: 'id' } },
      getTask: {},
      listTaskLogs: {},
      cancelTask: {},
      retryTask: {},
      listEnrollmentTokens: {},
      createEnrollmentToken: { body: { name: 'takeover' } },
      deleteEnrollmentToken: {},
      reportTaskProgress: { body: { progress: 50 }, asAgent: true },
      getAgent: {},
      replaceAgent: { body: replacement },
      updateAgent: { body: { status: 'maintenance' } },
      deleteAgent: {},
      getTeam: {},
      updateTeam: { body: { name: 'Taken over' } },
      deleteTeam: {},
      listTeamMembers: {},
      addTeamMember: { body: { user_id: outsider.id } },
      removeTeamMember: {},
      deleteApiKey: {},
    };
    // Users are not owned by a team: only administrators (`admin:users`) reach them at all.
    const notTeamOwned = ['getUser', 'updateUser', 'deleteUser'];

    const withIds = [...operationsById.values()].filter((info) => info.path.includes('{'));
    expect(withIds.map((o) => o.operationId).sort()).toEqual([...Object.keys(attempts), ...notTeamOwned].sort());

    for (const info of withIds) {
      const attempt = attempts[info.operationId];
      const method = info.method.toUpperCase();
      if (!attempt) {
        const res = await http(server.url, method, pathOf(info.path, ids), { headers: bearer(outsider.token), json: method === 'PATCH' ? {} : undefined });
        expect(res.status, info.operationId).toBe(403);
        continue;
      }
      const json = attempt.body;
      const headers = attempt.asAgent ? { 'x-api-key': outsiderAgent } : bearer(outsider.token);
      const theirs = await http(server.url, method, pathOf(info.path, ids), { headers, json });
      expect(theirs.status, `${info.operationId} on another team's resource`).toBe(404);
      expect(theirs.body.error.code).toBe('RES_NOT_FOUND');
      // Indistinguishable from an id that does not exist.
      const missing = await http(server.url, method, pathOf(info.path, {}), { headers, json });
      expect(missing.status, `${info.operationId} on a missing resource`).toBe(404);
      expect(missing.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID')).toBe(theirs.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID'));
    }

    // Nothing changed.
    expect((await server.call('GET', `/api/v1/agents/${agent.id}`)).body.data).toEqual(agent);
    const team = (await server.call('GET', `/api/v1/teams/${server.teamId}`)).body.data;
    expect(team.name).toBe('Test fleet');
    const members = (await server.call('GET', `/api/v1/teams/${server.teamId}/members`)).body.data.map((m: { user_id: string }) => m.user_id);
    expect(members).toContain(member.id);
    expect(members).not.toContain(outsider.id);
    expect((await http(server.url, 'GET', '/api/v1/agents', { headers: { 'x-api-key': key.secret } })).status).toBe(200);
    const unchangedTask = (await server.call('GET', `/api/v1/tasks/${task.task_id}`)).body.data;
    expect(unchangedTask).toMatchObject({ status: 'pending', progress: 0, attempt: 1 });
    expect((await server.call('GET', `/api/v1/teams/${server.teamId}/enrollment-tokens`)).body.data.map((t: { id: string }) => t.id)).toEqual([token.id]);
  });

  it("lists never show another team's resources, and a team_id filter of another team finds nothing", async () => {
    await server.call('POST', '/api/v1/agents', { json: newAgent() });
    const theirs = await http(server.url, 'GET', '/api/v1/agents?limit=100', { headers: bearer(outsider.token) });
    expect(theirs.body.data.filter((a: { team_id: string }) => a.team_id === server.teamId)).toEqual([]);
    const tasks = await http(server.url, 'GET', '/api/v1/tasks?limit=100', { headers: bearer(outsider.token) });
    expect(tasks.body.data.filter((t: { team_id: string }) => t.team_id === server.teamId)).toEqual([]);
    const filtered = await http(server.url, 'GET', `/api/v1/agents?team_id=${server.teamId}`, { headers: bearer(outsider.token) });
    expect(filtered.body.data).toEqual([]);
    const teams = await http(server.url, 'GET', '/api/v1/teams', { headers: bearer(outsider.token) });
    expect(teams.body.data.map((t: { name: string }) => t.name)).toEqual(['Outsiders']);
    const created = await http(server.url, 'POST', '/api/v1/agents', { headers: bearer(outsider.token), json: newAgent({ team_id: server.teamId }) });
    expect(created.status).toBe(404);
  });
});
