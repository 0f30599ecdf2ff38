// Central configuration over HTTP: settings per scope (global < team < group, defaults when unset, PUT creates
// 201 then replaces 200, DELETE unsets, If-Match 412, bad keys 404 and bad values 422, global writes only for
// admins), an agent's effective configuration with its ETag (304 until a group setting changes it), and security
// policies: CRUD scoped to the team, a forbidden command refused for one agent and for a fleet task with
// BIZ_POLICY_VIOLATION naming the policy, and max_task_concurrency capping what a claim returns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createOutsider, createUser, type TestUser } from '../support/identity.ts';

let server: TestServer;
let outsider: TestUser;
let outsiderTeam: string;
let operator: TestUser;
let viewer: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  ({ outsider, outsiderTeam } = await createOutsider(server.url, server.adminToken));
  operator = await createUser(server.url, server.adminToken, 'operator', [server.teamId]);
  viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId]);
});
afterAll(async () => {
  await server?.close();
});

const as = (user: TestUser) => (method: string, path: string, options: Parameters<typeof http>[3] = {}) =>
  http(server.url, method, path, { ...options, headers: { ...bearer(user.token), ...options.headers } });

/** Enrols an agent in the test team and says it is alive: its id and key. */
async function enrolledAgent(): Promise<{ id: string; key: string }> {
  const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: `config ${Math.random()}` } })).body.data.secret;
  const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent() } });
  expect(res.status, res.text).toBe(201);
  const agent = { id: res.body.data.agent.id as string, key: res.body.data.agent_key as string };
  expect((await http(server.url, 'POST', '/api/v1/agent/heartbeat', { headers: { 'x-api-key': agent.key } })).status).toBe(200);
  return agent;
}

async function newGroup(agentIds: string[]): Promise<string> {
  const group = await server.call('POST', '/api/v1/agent-groups', { json: { name: `group ${Math.random().toString(36).slice(2, 10)}` } });
  expect(group.status, group.text).toBe(201);
  if (agentIds.length > 0) expect((await server.call('POST', `/api/v1/agent-groups/${group.body.data.id}/members`, { json: { agent_ids: agentIds } })).status).toBe(200);
  return group.body.data.id;
}

const agentConfig = (key: string, headers: Record<string, string> = {}) => http(server.url, 'GET', '/api/v1/agent/config', { headers: { 'x-api-key': key, ...headers } });

let serial = 0;
const policyName = (label: string) => `${label} ${(serial += 1)} ${Math.random().toString(36).slice(2, 8)}`;

describe('settings', () => {
  it('answers defaults when unset; PUT creates (201 + Location) then replaces (200); DELETE unsets; every write audited', async () => {
    const listed = await server.call('GET', '/api/v1/config/settings?scope=team');
    expect(listed.status, listed.text).toBe(200);
    const keys = listed.body.data.map((s: { key: string }) => s.key);
    expect(keys).toEqual(['heartbeat_interval_seconds', 'metric_report_interval_seconds', 'inventory_interval_seconds', 'agent_log_level', 'update_channel']);
    expect(listed.body.data[0]).toMatchObject({ scope: 'team', team_id: server.teamId, value: 30, default: 30, is_set: false, version: 0, updated_at: null });

    const path = `/api/v1/config/settings/metric_report_interval_seconds?scope=team&team_id=${server.teamId}`;
    const created = await as(operator)('PUT', path, { json: { value: 120 } });
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get('location')).toBe(path);
    expect(created.body.data).toMatchObject({ key: 'metric_report_interval_seconds', value: 120, is_set: true, version: 1, scope: 'team' });
    const replaced = await as(operator)('PUT', path, { json: { value: 90 } });
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.body.data).toMatchObject({ value: 90, version: 2 });
    const read = await as(viewer)('GET', path);
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual(replaced.body.data);
    expect((await as(viewer)('GET', path, { headers: { 'if-none-match': read.headers.get('etag')! } })).status).toBe(304);

    expect((await as(operator)('DELETE', path)).status).toBe(204);
    expect((await as(operator)('GET', path)).body.data).toMatchObject({ value: 60, is_set: false, version: 0 });
    // Unsetting what is not set is done already.
    expect((await as(operator)('DELETE', path)).status).toBe(204);

    let audited: string[] = [];
    for (let i = 0; i < 50 && audited.length < 4; i += 1) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      const rows = await server.database.db.selectFrom('audit_events').select('operation_id').where('operation_id', 'in', ['replaceSetting', 'deleteSetting']).execute();
      audited = rows.map((r) => r.operation_id).sort();
    }
    expect(audited).toEqual(['deleteSetting', 'deleteSetting', 'replaceSetting', 'replaceSetting']);
  });

  it('refuses a stale If-Match with 412 and changes nothing', async () => {
    const path = '/api/v1/config/settings/inventory_interval_seconds?scope=team';
    const first = await server.call('PUT', path, { json: { value: 600 } });
    expect(first.status).toBe(201);
    const etag = (await server.call('GET', path)).headers.get('etag')!;
    expect((await server.call('PUT', path, { json: { value: 900 }, headers: { 'if-match': etag } })).status).toBe(200);
    const stale = await server.call('PUT', path, { json: { value: 1200 }, headers: { 'if-match': etag } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('RES_PRECONDITION_FAILED');
    expect((await server.call('DELETE', path, { headers: { 'if-match': etag } })).status).toBe(412);
    expect((await server.call('GET', path)).body.data).toMatchObject({ value: 900, version: 2 });
  });

  it('refuses unknown keys (404), values of the wrong type or out of bounds (422), and scopes it does not take (400)', async () => {
    const unknown = await server.call('PUT', '/api/v1/config/settings/heartbeat_intervall?scope=team', { json: { value: 10 } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('RES_NOT_FOUND');
    expect((await server.call('GET', '/api/v1/config/settings/no_such_key')).status).toBe(404);

    for (const [key, value] of [
      ['heartbeat_interval_seconds', '30'],
      ['heartbeat_interval_seconds', 2],
      ['heartbeat_interval_seconds', 1.5],
      ['agent_log_level', 'verbose'],
      ['update_channel', true],
    ] as const) {
      const res = await server.call('PUT', `/api/v1/config/settings/${key}?scope=team`, { json: { value } });
      expect(res.status, `${key} = ${JSON.stringify(value)}: ${res.text}`).toBe(422);
      expect(res.body.error.details[0].field).toBe('value');
    }
    expect((await server.call('PUT', '/api/v1/config/settings/heartbeat_interval_seconds?scope=team', { json: {} })).status).toBe(422);

    expect((await server.call('GET', `/api/v1/config/settings?scope=global&team_id=${server.teamId}`)).status).toBe(400);
    expect((await server.call('GET', '/api/v1/config/settings?scope=group')).status).toBe(400);
    expect((await server.call('GET', '/api/v1/config/settings?scope=galaxy')).status).toBe(400);
  });

  it("keeps another team's scopes out of reach (404) and global writes for administrators (403 for operators)", async () => {
    const group = await newGroup([]);
    const outsiderCall = as(outsider);
    expect((await outsiderCall('GET', `/api/v1/config/settings?scope=team&team_id=${server.teamId}`)).status).toBe(404);
    expect((await outsiderCall('PUT', `/api/v1/config/settings/agent_log_level?scope=team&team_id=${server.teamId}`, { json: { value: 'debug' } })).status).toBe(404);
    expect((await outsiderCall('PUT', `/api/v1/config/settings/agent_log_level?scope=group&group_id=${group}`, { json: { value: 'debug' } })).status).toBe(404);
    expect((await outsiderCall('DELETE', `/api/v1/config/settings/agent_log_level?scope=group&group_id=${group}`)).status).toBe(404);
    expect((await outsiderCall('PUT', `/api/v1/config/settings/agent_log_level?scope=team&team_id=${outsiderTeam}`, { json: { value: 'debug' } })).status).toBe(201);

    const denied = await as(operator)('PUT', '/api/v1/config/settings/update_channel?scope=global', { json: { value: 'beta' } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('PERM_DENIED');
    expect((await as(viewer)('PUT', '/api/v1/config/settings/update_channel?scope=team', { json: { value: 'beta' } })).status).toBe(403);
    expect((await as(viewer)('GET', '/api/v1/config/settings?scope=global')).status).toBe(200);
  });
});

describe("an agent's effective configuration", () => {
  it('follows global < team < group, says where each value comes from, and moves its ETag only when it changes', async () => {
    const agent = await enrolledAgent();
    const group = await newGroup([agent.id]);
    const key = 'heartbeat_interval_seconds';

    const initial = await agentConfig(agent.key);
    expect(initial.status, initial.text).toBe(200);
    expect(initial.body.data).toMatchObject({ agent_id: agent.id, team_id: server.teamId, group_ids: [group], max_task_concurrency: null });
    expect(initial.body.data.settings[key]).toEqual({ value: 30, source: 'default', team_id: null, group_id: null });
    const etag = initial.headers.get('etag')!;
    expect(etag).toMatch(/^"/);
    expect((await agentConfig(agent.key, { 'if-none-match': etag })).status).toBe(304);

    expect((await server.call('PUT', `/api/v1/config/settings/${key}?scope=global`, { json: { value: 45 } })).status).toBe(201);
    let now = await agentConfig(agent.key);
    expect(now.body.data.settings[key]).toEqual({ value: 45, source: 'global', team_id: null, group_id: null });

    expect((await server.call('PUT', `/api/v1/config/settings/${key}?scope=team`, { json: { value: 20 } })).status).toBe(201);
    now = await agentConfig(agent.key);
    expect(now.body.data.settings[key]).toEqual({ value: 20, source: 'team', team_id: server.teamId, group_id: null });
    const beforeGroup = now.headers.get('etag')!;
    expect((await agentConfig(agent.key, { 'if-none-match': beforeGroup })).status).toBe(304);

    expect((await as(operator)('PUT', `/api/v1/config/settings/${key}?scope=group&group_id=${group}`, { json: { value: 10 } })).status).toBe(201);
    now = await agentConfig(agent.key);
    expect(now.status).toBe(200);
    expect(now.body.data.settings[key]).toEqual({ value: 10, source: 'group', team_id: server.teamId, group_id: group });
    expect(now.headers.get('etag')).not.toBe(beforeGroup);
    expect((await agentConfig(agent.key, { 'if-none-match': beforeGroup })).status).toBe(200);

    // A second group of the agent: the value written last wins.
    const second = await newGroup([agent.id]);
    expect((await server.call('PUT', `/api/v1/config/settings/${key}?scope=group&group_id=${second}`, { json: { value: 12 } })).status).toBe(201);
    expect((await agentConfig(agent.key)).body.data.settings[key]).toMatchObject({ value: 12, source: 'group', group_id: second });
    expect((await server.call('PUT', `/api/v1/config/settings/${key}?scope=group&group_id=${group}`, { json: { value: 11 } })).status).toBe(200);
    expect((await agentConfig(agent.key)).body.data.settings[key]).toMatchObject({ value: 11, group_id: group });

    // Unsetting the groups' values falls back to the team's, then the global one.
    expect((await server.call('DELETE', `/api/v1/config/settings/${key}?scope=group&group_id=${group}`)).status).toBe(204);
    expect((await server.call('DELETE', `/api/v1/config/settings/${key}?scope=group&group_id=${second}`)).status).toBe(204);
    expect((await agentConfig(agent.key)).body.data.settings[key]).toMatchObject({ value: 20, source: 'team' });
    expect((await server.call('DELETE', `/api/v1/config/settings/${key}?scope=team`)).status).toBe(204);
    expect((await agentConfig(agent.key)).body.data.settings[key]).toMatchObject({ value: 45, source: 'global' });
    expect((await server.call('DELETE', `/api/v1/config/settings/${key}?scope=global`)).status).toBe(204);

    // The operators' view is the same document; another team's agent is 404.
    const operatorView = await as(viewer)('GET', `/api/v1/agents/${agent.id}/config`);
    expect(operatorView.status).toBe(200);
    expect(operatorView.body.data).toEqual((await agentConfig(agent.key)).body.data);
    expect((await as(outsider)('GET', `/api/v1/agents/${agent.id}/config`)).status).toBe(404);
  });

  it('lists the policies that apply (team-wide and its groups), and a policy change moves the ETag', async () => {
    const agent = await enrolledAgent();
    const group = await newGroup([agent.id]);
    const otherGroup = await newGroup([]);
    const etag = (await agentConfig(agent.key)).headers.get('etag')!;

    const onGroup = await server.call('POST', '/api/v1/config/policies', { json: { name: policyName('packages'), group_id: group, rules: { kind: 'required_packages', packages: [{ name: 'openssl', min_version: '3.0.13' }] } } });
    expect(onGroup.status, onGroup.text).toBe(201);
    const elsewhere = await server.call('POST', '/api/v1/config/policies', { json: { name: policyName('elsewhere'), group_id: otherGroup, rules: { kind: 'max_task_concurrency', max: 1 } } });
    expect(elsewhere.status).toBe(201);

    const now = await agentConfig(agent.key);
    expect(now.headers.get('etag')).not.toBe(etag);
    const ids = now.body.data.policies.map((p: { id: string }) => p.id);
    expect(ids).toContain(onGroup.body.data.id);
    expect(ids).not.toContain(elsewhere.body.data.id);
    expect(now.body.data.max_task_concurrency).toBeNull();

    const changedEtag = now.headers.get('etag')!;
    expect((await server.call('PATCH', `/api/v1/config/policies/${onGroup.body.data.id}`, { json: { rules: { kind: 'required_packages', packages: [{ name: 'openssl', min_version: '3.0.14' }] } } })).status).toBe(200);
    expect((await agentConfig(agent.key, { 'if-none-match': changedEtag })).status).toBe(200);
    for (const id of [onGroup.body.data.id, elsewhere.body.data.id]) expect((await server.call('DELETE', `/api/v1/config/policies/${id}`)).status).toBe(204);
  });
});

describe('policies', () => {
  it('creates (201 + Location), reads, lists, patches as new versions and deletes; names unique per team; If-Match; another team 404', async () => {
    const created = await server.call('POST', '/api/v1/config/policies', { json: { name: 'Read only', description: 'Status queries', rules: { kind: 'allowed_commands', commands: ['systemctl status *'] } } });
    expect(created.status, created.text).toBe(201);
    const policy = created.body.data;
    expect(policy).toMatchObject({ team_id: server.teamId, group_id: null, name: 'Read only', kind: 'allowed_commands', version: 1 });
    expect(created.headers.get('location')).toBe(`/api/v1/config/policies/${policy.id}`);
    expect((await server.call('POST', '/api/v1/config/policies', { json: { name: 'read ONLY', rules: { kind: 'max_task_concurrency', max: 3 } } })).status).toBe(409);

    const fetched = await as(viewer)('GET', `/api/v1/config/policies/${policy.id}`);
    expect(fetched.body.data).toEqual(policy);
    const listed = await as(viewer)('GET', '/api/v1/config/policies?kind=allowed_commands');
    expect(listed.body.data.map((p: { id: string }) => p.id)).toContain(policy.id);

    const etag = fetched.headers.get('etag')!;
    const patched = await server.call('PATCH', `/api/v1/config/policies/${policy.id}`, { json: { description: null }, headers: { 'if-match': etag } });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ description: null, version: 2 });
    expect((await server.call('PATCH', `/api/v1/config/policies/${policy.id}`, { json: { name: 'Renamed' }, headers: { 'if-match': etag } })).status).toBe(412);
    expect((await server.call('DELETE', `/api/v1/config/policies/${policy.id}`, { headers: { 'if-match': etag } })).status).toBe(412);

    // Another team (its own administrator): 404 everywhere; a group of another team cannot be attached.
    const foreignAdmin = as(await createUser(server.url, server.adminToken, 'admin', [outsiderTeam], 'foreign-admin'));
    for (const [method, json] of [['GET', undefined], ['PATCH', { name: 'x' }], ['DELETE', undefined]] as const) {
      expect((await foreignAdmin(method, `/api/v1/config/policies/${policy.id}`, json ? { json } : {})).status).toBe(404);
    }
    expect((await as(outsider)('GET', `/api/v1/config/policies/${policy.id}`)).status).toBe(404);
    expect((await foreignAdmin('GET', '/api/v1/config/policies')).body.data).toEqual([]);
    const foreignGroup = await newGroup([]);
    expect((await foreignAdmin('POST', '/api/v1/config/policies', { json: { name: 'x', group_id: foreignGroup, rules: { kind: 'max_task_concurrency', max: 1 } } })).status).toBe(404);

    // Policies are an administrator's.
    expect((await as(operator)('POST', '/api/v1/config/policies', { json: { name: 'op', rules: { kind: 'max_task_concurrency', max: 1 } } })).status).toBe(403);
    expect((await as(operator)('GET', `/api/v1/config/policies/${policy.id}`)).status).toBe(200);

    // Rules are checked: an unknown kind, an empty list, a package named twice.
    for (const rules of [{ kind: 'sudoers', rules: [] }, { kind: 'allowed_commands', commands: [] }, { kind: 'max_task_concurrency', max: 0 }, { kind: 'required_packages', packages: [{ name: 'a', min_version: '1' }, { name: 'a', min_version: '2' }] }]) {
      expect((await server.call('POST', '/api/v1/config/policies', { json: { name: policyName('bad'), rules } })).status, JSON.stringify(rules)).toBe(422);
    }

    expect((await server.call('DELETE', `/api/v1/config/policies/${policy.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/config/policies/${policy.id}`)).status).toBe(404);
  });

  it('refuses a command no allowed_commands policy allows, for one agent and for a fleet task, naming the policy', async () => {
    const agent = await enrolledAgent();
    const other = await enrolledAgent();
    const group = await newGroup([agent.id]);
    const created = await server.call('POST', '/api/v1/config/policies', { json: { name: policyName('Production commands'), group_id: group, rules: { kind: 'allowed_commands', commands: ['systemctl restart *', 'apt-get update'] } } });
    expect(created.status).toBe(201);
    const policy = created.body.data as { id: string; name: string };

    const refused = await server.call('POST', `/api/v1/agents/${agent.id}/actions/command`, { json: { command: 'rm', args: ['-rf', '/'] } });
    expect(refused.status, refused.text).toBe(422);
    expect(refused.body.error.code).toBe('BIZ_POLICY_VIOLATION');
    expect(refused.body.error.message).toContain(policy.name);
    expect(refused.body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'command', value: 'rm -rf /' }),
        expect.objectContaining({ field: 'policy_id', value: policy.id, message: expect.stringContaining(policy.name) }),
      ]),
    );
    // Allowed ones run; an agent outside the group is not bound by it.
    expect((await server.call('POST', `/api/v1/agents/${agent.id}/actions/command`, { json: { command: 'systemctl', args: ['restart', 'nginx'] } })).status).toBe(202);
    expect((await server.call('POST', `/api/v1/agents/${agent.id}/actions/command`, { json: { command: 'apt-get', args: ['update'] } })).status).toBe(202);
    expect((await server.call('POST', `/api/v1/agents/${agent.id}/actions/command`, { json: { command: 'apt-get', args: ['update', '-y'] } })).status).toBe(422);
    expect((await server.call('POST', `/api/v1/agents/${other.id}/actions/command`, { json: { command: 'rm', args: ['-rf', '/tmp/x'] } })).status).toBe(202);
    // Through a task of the agent (createAgentTask) too, and other actions are untouched.
    const asTask = await server.call('POST', `/api/v1/agents/${agent.id}/tasks`, { json: { action: { type: 'command', parameters: { command: 'reboot' } } } });
    expect(asTask.status, asTask.text).toBe(422);
    expect(asTask.body.error.code).toBe('BIZ_POLICY_VIOLATION');
    expect((await server.call('POST', `/api/v1/agents/${agent.id}/actions/reboot`, { json: {} })).status).toBe(202);

    // A fleet task over both agents is refused as a whole; nothing is created.
    const before = (await server.call('GET', `/api/v1/tasks?agent_id=${other.id}`)).body.pagination.total;
    const fleet = await server.call('POST', '/api/v1/tasks', { json: { target: { agent_ids: [other.id, agent.id] }, action: { type: 'command', parameters: { command: 'curl', args: ['http://example.com'] } } } });
    expect(fleet.status, fleet.text).toBe(422);
    expect(fleet.body.error.code).toBe('BIZ_POLICY_VIOLATION');
    expect(fleet.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'policy_id', value: policy.id })]));
    expect((await server.call('GET', `/api/v1/tasks?agent_id=${other.id}`)).body.pagination.total).toBe(before);
    const allowedFleet = await server.call('POST', '/api/v1/tasks', { json: { target: { agent_ids: [other.id, agent.id] }, action: { type: 'command', parameters: { command: 'systemctl', args: ['restart', 'sshd'] } } } });
    expect(allowedFleet.status, allowedFleet.text).toBe(202);

    // Deleting the policy lifts it at once.
    expect((await server.call('DELETE', `/api/v1/config/policies/${policy.id}`)).status).toBe(204);
    expect((await server.call('POST', `/api/v1/agents/${agent.id}/actions/command`, { json: { command: 'rm', args: ['-rf', '/'] } })).status).toBe(202);
  });

  it('caps how many tasks an agent runs at once (max_task_concurrency, at claim time)', async () => {
    const agent = await enrolledAgent();
    const group = await newGroup([agent.id]);
    const created = await server.call('POST', '/api/v1/config/policies', { json: { name: policyName('two at a time'), group_id: group, rules: { kind: 'max_task_concurrency', max: 2 } } });
    expect(created.status).toBe(201);
    // A looser team-wide one does not widen it: the smallest applies.
    const loose = await server.call('POST', '/api/v1/config/policies', { json: { name: policyName('five at a time'), rules: { kind: 'max_task_concurrency', max: 5 } } });
    expect(loose.status).toBe(201);
    expect((await agentConfig(agent.key)).body.data.max_task_concurrency).toBe(2);

    for (let i = 0; i < 4; i += 1) expect((await server.call('POST', `/api/v1/agents/${agent.id}/actions/reboot`, { json: {} })).status).toBe(202);
    const claim = (max: number) => http(server.url, 'POST', '/api/v1/agent/tasks/claim', { headers: { 'x-api-key': agent.key }, json: { max_tasks: max } });
    const first = await claim(10);
    expect(first.status, first.text).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect((await claim(10)).body.data).toHaveLength(0);

    const done = await http(server.url, 'POST', `/api/v1/agent/tasks/${first.body.data[0].id}/progress`, { headers: { 'x-api-key': agent.key }, json: { status: 'succeeded' } });
    expect(done.status, done.text).toBe(200);
    expect((await claim(10)).body.data).toHaveLength(1);
    expect((await claim(10)).body.data).toHaveLength(0);

    // Without the policies the rest is claimable.
    for (const id of [created.body.data.id, loose.body.data.id]) expect((await server.call('DELETE', `/api/v1/config/policies/${id}`)).status).toBe(204);
    expect((await claim(10)).body.data).toHaveLength(1);
  });

  it("answers an agent's compliance with its required_packages policies (ok, outdated, missing), 404 for another team", async () => {
    const agent = await enrolledAgent();
    const group = await newGroup([agent.id]);
    const hardware = { cpu_model: 'AMD EPYC', cpu_cores: 4, memory_bytes: 8_589_934_592, disk_bytes: 107_374_182_400, architecture: 'x86_64', virtualization: 'kvm' };
    const packages = [
      { name: 'openssl', version: '3.0.13-0ubuntu3.4' },
      { name: 'curl', version: '7.81.0-1ubuntu1.15' },
    ];
    expect((await http(server.url, 'PUT', '/api/v1/agent/inventory', { headers: { 'x-api-key': agent.key }, json: { packages, services: [], hardware } })).status).toBe(200);
    const noPolicy = await server.call('GET', `/api/v1/agents/${agent.id}/compliance`);
    expect(noPolicy.status, noPolicy.text).toBe(200);
    // Policies of other tests may apply team-wide; this agent's group policy is the one looked at.
    const created = await server.call('POST', '/api/v1/config/policies', {
      json: { name: policyName('Patched'), group_id: group, rules: { kind: 'required_packages', packages: [{ name: 'openssl', min_version: '3.0.13' }, { name: 'curl', min_version: '8.5.0' }, { name: 'auditd', min_version: '1.0' }] } },
    });
    expect(created.status).toBe(201);
    const compliance = await as(viewer)('GET', `/api/v1/agents/${agent.id}/compliance`);
    expect(compliance.status, compliance.text).toBe(200);
    expect(compliance.body.data.compliant).toBe(false);
    const mine = compliance.body.data.packages.filter((p: { policy_id: string }) => p.policy_id === created.body.data.id);
    expect(mine.map((p: { name: string; status: string; installed_version: string | null }) => [p.name, p.status, p.installed_version])).toEqual([
      ['openssl', 'ok', '3.0.13-0ubuntu3.4'],
      ['curl', 'outdated', '7.81.0-1ubuntu1.15'],
      ['auditd', 'missing', null],
    ]);
    expect((await as(outsider)('GET', `/api/v1/agents/${agent.id}/compliance`)).status).toBe(404);
    expect((await server.call('DELETE', `/api/v1/config/policies/${created.body.data.id}`)).status).toBe(204);
  });
});
