// One scenario suite, written against the SDK, run against every target: the Prism mock and the real
// server. Every answer passes through the ContractChecker; a status or body the spec does not declare
// fails the scenario. Where an outcome depends on state (404, 409), the request carries
// `Prefer: code=…`, which Prism honours and the server ignores, so both targets are asked the same thing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOpsdeckClient, OpsdeckError, paginate, pages, subscribeEvents, unwrap, type OpsdeckClient, type StreamEvent } from '@opsdeck/sdk';
import { ContractChecker } from './contract-checker.ts';
import { linkedPath } from './links.ts';
import { operationsById, spec } from '../../server/contract.ts';
import { beforeSunset } from '../support/sunset.ts';
import { TestSocket } from '../support/websocket.ts';
import { schemaChecker } from '../../server/http/schema-check.ts';
import { Secret, TOTP } from 'otpauth';
import { createAgentKeyMaterial } from '@opsdeck/sdk/certificates';

const serverMessageProblem = schemaChecker('EventSocketServerMessage');

export interface ContractTarget {
  url: string;
  /** An administrator's access token, a member of exactly one team. */
  token: string;
  stop(): Promise<void>;
}

export interface SuiteOptions {
  /** Whether reads see earlier writes (the real server) or answer examples (the mock). */
  stateful: boolean;
}

const prefer = (code: number) => ({ headers: { Prefer: `code=${code}` } });

async function expectError(call: Promise<unknown>, status: number, codes: string[]): Promise<OpsdeckError> {
  const error = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(OpsdeckError);
  const opsdeckError = error as OpsdeckError;
  expect(opsdeckError.status).toBe(status);
  expect(codes).toContain(opsdeckError.code);
  expect(opsdeckError.requestId).toBeTruthy();
  return opsdeckError;
}

let serial = 0;
const uniqueHost = () => `contract-${process.pid}-${Date.now().toString(36)}-${(serial += 1)}.example.com`;

export function defineContractSuite(name: string, start: () => Promise<ContractTarget>, options: SuiteOptions): void {
  describe(`contract suite against ${name}`, () => {
    let target: ContractTarget;
    let client: OpsdeckClient;
    const checker = new ContractChecker();
    const clientWith = (token: string | undefined): OpsdeckClient => {
      const made = createOpsdeckClient({ baseUrl: target.url, retries: false, ...(token ? { token } : {}) });
      made.use(checker.middleware);
      return made;
    };

    // Starting Prism on the whole contract, or a server on a fresh database, takes a while on a busy machine.
    beforeAll(async () => {
      target = await start();
      client = clientWith(target.token);
    }, 120_000);
    afterAll(async () => {
      await target?.stop();
    });
    afterEach(() => {
      expect(checker.violations.splice(0)).toEqual([]);
    });

    it('reports liveness, readiness and version', async () => {
      expect((await unwrap(client.GET('/health/live'))).status).toBe('ok');
      expect((await unwrap(client.GET('/health/ready'))).status).toBe('ok');
      const version = await unwrap(client.GET('/api/v1/system/version'));
      expect(version.name).toBe('opsdeck');
      // The contract's version (the mock answers its examples, which follow it).
      expect(version.api_version).toBe(spec.info.version);
    });

    it('answers the front door (a JSON index) and the metrics (Prometheus text)', async () => {
      const index = await unwrap(client.GET('/'));
      expect(index.name).toBe('opsdeck');
      expect(index.links).toMatchObject({ docs: '/docs', openapi_json: '/openapi.json', openapi_yaml: '/openapi.yaml', api_v1: '/api/v1', health_ready: '/health/ready' });
      const metrics = await client.GET('/metrics', { parseAs: 'text' });
      expect(metrics.response.status).toBe(200);
      expect(metrics.data).toMatch(/^# HELP opsdeck_http_requests_total /m);
    });

    it('creates an agent (201 + Location) and reads it back', async () => {
      const body = { hostname: uniqueHost(), ip_address: '10.20.30.40', platform: 'linux' as const, tags: ['contract'] };
      const created = await client.POST('/api/v1/agents', { body });
      expect(created.response.status).toBe(201);
      const agent = created.data!.data;
      expect(created.response.headers.get('location')).toMatch(/^\/api\/v1\/agents\/[0-9a-f-]{36}$/);
      const fetched = await unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id: agent.id } } }));
      // The mock's example agrees with the server: Location is the new agent's path, which the GetAgent link leads to.
      expect(created.response.headers.get('location')).toBe(`/api/v1/agents/${agent.id}`);
      expect(linkedPath('createAgent', '201', 'GetAgent', { body: created.data })).toBe(`/api/v1/agents/${agent.id}`);
      if (options.stateful) {
        expect(agent).toMatchObject(body);
        expect(fetched).toEqual(agent);
      }
    });

    it('lists agents by offset, by cursor, sorted and filtered', async () => {
      for (let i = 0; i < 3; i += 1) {
        await unwrap(client.POST('/api/v1/agents', { body: { hostname: uniqueHost(), ip_address: `10.40.0.${i + 1}`, platform: 'bsd' } }));
      }
      const offset = await client.GET('/api/v2/agents', { params: { query: { limit: 2, offset: 0, sort: 'hostname:asc' } } });
      expect(offset.response.status).toBe(200);
      expect(offset.response.headers.get('link')).toBeTruthy();
      const cursor = await client.GET('/api/v2/agents', { params: { query: { limit: 2, cursor: '', platform: 'bsd', status: 'offline' } } });
      expect(cursor.response.status).toBe(200);
      const summary = await unwrap(client.GET('/api/v1/agents/summary'));
      expect(summary.total).toBeGreaterThanOrEqual(0);
      if (options.stateful) {
        expect(offset.data!.pagination.mode).toBe('offset');
        expect(offset.data!.data).toHaveLength(2);
        expect(cursor.data!.pagination.mode).toBe('cursor');
        expect(cursor.data!.data.every((a) => a.platform === 'bsd' && a.status === 'offline')).toBe(true);
      }
    });

    it('lists agents in v2 with groups, health scores and a summary; v1 answers as deprecated', async () => {
      await unwrap(client.POST('/api/v1/agents', { body: { hostname: uniqueHost(), ip_address: '10.45.0.1', platform: 'linux', status: 'online' } }));
      const offset = await client.GET('/api/v2/agents', { params: { query: { limit: 2, sort: 'hostname:asc', status: 'online' } } });
      expect(offset.response.status).toBe(200);
      expect(offset.response.headers.get('link')).toBeTruthy();
      const cursor = await client.GET('/api/v2/agents', { params: { query: { limit: 2, cursor: '', platform: 'linux' } } });
      expect(cursor.response.status).toBe(200);
      const unknown = { limit: 1, fields: 'id' } as unknown as { limit: number };
      await expectError(unwrap(client.GET('/api/v2/agents', { params: { query: unknown }, ...prefer(400) })), 400, ['VAL_INVALID_PARAMETER']);
      // Until its sunset (the server reads the test's clock, see test/support/sunset.ts).
      const v1 = await beforeSunset('listAgents', () => client.GET('/api/v1/agents', { params: { query: { limit: 1, fields: ['hostname'] } } }));
      expect(v1.response.status).toBe(200);
      if (options.stateful) {
        const page = offset.data!;
        expect(page.pagination.mode === 'offset' && page.pagination.total).toBe(page.summary.total);
        expect(page.summary.by_status).toMatchObject({ online: page.summary.total, offline: 0, maintenance: 0 });
        for (const agent of page.data) {
          expect(agent.status).toBe('online');
          expect(Array.isArray(agent.groups)).toBe(true);
          expect(agent.health_score).toBeGreaterThanOrEqual(0);
        }
        expect(cursor.data!.pagination.mode).toBe('cursor');
        expect(v1.response.headers.get('deprecation')).toMatch(/^@\d+$/);
        expect(v1.response.headers.get('sunset')).toMatch(/ GMT$/);
        expect(v1.response.headers.get('link')).toContain('</api/v2/agents>; rel="successor-version"');
        for (const agent of v1.data!.data) expect(Object.keys(agent).sort()).toEqual(['hostname', 'id']);
      }
    });

    it('walks every page with the SDK iterator, by offset and by cursor', async () => {
      // The mock answers its example page to every request: the walk is finite because that page is the last.
      for (let i = 0; i < 5; i += 1) {
        await unwrap(client.POST('/api/v1/agents', { body: { hostname: uniqueHost(), ip_address: `10.50.0.${i + 1}`, platform: 'macos' } }));
      }
      const first = await pages(client, '/api/v2/agents', { params: { query: { limit: 2, platform: 'macos' } } }).next();
      const total = first.value && first.value.pagination.mode === 'offset' ? first.value.pagination.total : -1;
      const byOffset: string[] = [];
      for await (const agent of paginate(client, '/api/v2/agents', { params: { query: { limit: 2, platform: 'macos' } } })) byOffset.push(agent.id);
      const byCursor: string[] = [];
      for await (const agent of paginate(client, '/api/v2/agents', { params: { query: { limit: 2, platform: 'macos', cursor: '' } } })) byCursor.push(agent.id);
      expect(total).toBeGreaterThan(0);
      expect(byOffset).toHaveLength(total);
      expect(new Set(byCursor)).toEqual(new Set(byOffset));
      expect(byCursor).toEqual(byOffset);
      if (options.stateful) expect(total).toBe(5);
    });

    it('replaces, updates and deletes an agent, which is then gone', async () => {
      const agent = await unwrap(client.POST('/api/v1/agents', { body: { hostname: uniqueHost(), ip_address: '10.60.0.1', platform: 'windows' } }));
      const path = { agent_id: agent.id };
      const replacement = { hostname: uniqueHost(), ip_address: '10.60.0.2', platform: 'windows' as const, os_version: 'Windows Server 2025', agent_version: '2.5.0', status: 'maintenance' as const, tags: [] };
      const replaced = await unwrap(client.PUT('/api/v1/agents/{agent_id}', { params: { path }, body: replacement }));
      const updated = await unwrap(client.PATCH('/api/v1/agents/{agent_id}', { params: { path }, body: { os_version: null, tags: ['patched'] } }));
      const deleted = await client.DELETE('/api/v1/agents/{agent_id}', { params: { path } });
      expect(deleted.response.status).toBe(204);
      await expectError(client.GET('/api/v1/agents/{agent_id}', { params: { path }, ...prefer(404) }).then(unwrap), 404, ['RES_NOT_FOUND']);
      if (options.stateful) {
        expect(replaced).toMatchObject({ ...replacement, id: agent.id });
        expect(updated).toMatchObject({ os_version: null, tags: ['patched'], status: 'maintenance' });
      }
    });

    it('refuses invalid input with 422 and field details', async () => {
      const bad = { hostname: '', ip_address: '192.168.1', platform: 'linux' as const };
      const error = await expectError(unwrap(client.POST('/api/v1/agents', { body: bad, ...prefer(422) })), 422, [
        'VAL_ERROR',
        'VAL_MULTIPLE_ERRORS',
        'VAL_INVALID_FORMAT',
        'VAL_REQUIRED_FIELD',
      ]);
      expect(error.details.length).toBeGreaterThan(0);
    });

    it('answers 404 for an agent that does not exist', async () => {
      const agent_id = '0192f0c1-0000-7000-8000-000000000000';
      await expectError(unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
    });

    it('answers 409 for a duplicate hostname', async () => {
      const body = { hostname: uniqueHost(), ip_address: '10.70.0.1', platform: 'linux' as const };
      await unwrap(client.POST('/api/v1/agents', { body }));
      await expectError(unwrap(client.POST('/api/v1/agents', { body, ...prefer(409) })), 409, ['RES_ALREADY_EXISTS']);
    });

    it('answers 400 for an unknown query parameter', async () => {
      const query = { limit: 1, colour: 'red' } as unknown as { limit: number };
      await expectError(unwrap(client.GET('/api/v2/agents', { params: { query }, ...prefer(400) })), 400, ['VAL_INVALID_PARAMETER']);
    });

    it('refuses a request without credentials with 401 and one without the permission with 403', async () => {
      await expectError(unwrap(clientWith(undefined).GET('/api/v2/agents', { ...prefer(401) })), 401, ['AUTH_REQUIRED']);
      const password = 'contract-viewer-password';
      const viewer = await unwrap(client.POST('/api/v1/admin/users', { body: { email: `viewer@${uniqueHost()}`, name: 'Viewer', role: 'viewer', password } }));
      const tokens = await unwrap(clientWith(undefined).POST('/api/v1/auth/login', { body: { email: viewer.email, password } }));
      const asViewer = clientWith(options.stateful ? tokens.access_token : target.token);
      await expectError(
        unwrap(asViewer.POST('/api/v1/agents', { body: { hostname: uniqueHost(), ip_address: '10.80.0.1', platform: 'linux' }, ...prefer(403) })),
        403,
        ['PERM_DENIED'],
      );
    });

    it('signs in, refreshes, reads and changes the profile and password, and signs out', async () => {
      const password = 'contract-user-password-1';
      const user = await unwrap(client.POST('/api/v1/admin/users', { body: { email: `user@${uniqueHost()}`, name: 'Contract user', role: 'operator', password } }));
      const anonymous = clientWith(undefined);
      const first = await unwrap(anonymous.POST('/api/v1/auth/login', { body: { email: user.email, password } }));
      expect(first.token_type).toBe('Bearer');
      const second = await unwrap(anonymous.POST('/api/v1/auth/refresh', { body: { refresh_token: first.refresh_token } }));
      const asUser = clientWith(options.stateful ? second.access_token : target.token);
      const profile = await unwrap(asUser.GET('/api/v1/auth/profile'));
      const renamed = await unwrap(asUser.PATCH('/api/v1/auth/profile', { body: { name: 'Renamed user' } }));
      const changed = await asUser.POST('/api/v1/auth/password', { body: { current_password: password, new_password: 'contract-user-password-2' } });
      expect(changed.response.status).toBe(204);
      await expectError(
        unwrap(anonymous.POST('/api/v1/auth/login', { body: { email: user.email, password: 'wrong-password-here' }, ...prefer(401) })),
        401,
        ['AUTH_INVALID_CREDENTIALS'],
      );
      const third = await unwrap(anonymous.POST('/api/v1/auth/login', { body: { email: user.email, password: options.stateful ? 'contract-user-password-2' : password } }));
      const out = await anonymous.POST('/api/v1/auth/logout', { body: { refresh_token: third.refresh_token } });
      expect(out.response.status).toBe(204);
      if (options.stateful) {
        expect(profile.email).toBe(user.email);
        expect(renamed.name).toBe('Renamed user');
      }
    });

    it('creates, lists and revokes an API key', async () => {
      const created = await client.POST('/api/v1/api-keys', { body: { name: 'contract', scopes: ['agents:read'] } });
      expect(created.response.status).toBe(201);
      const key = created.data!.data;
      expect(key.secret.startsWith(key.prefix)).toBe(true);
      const listed = await unwrap(client.GET('/api/v1/api-keys'));
      const revoked = await client.DELETE('/api/v1/api-keys/{api_key_id}', { params: { path: { api_key_id: key.id } } });
      expect(revoked.response.status).toBe(204);
      if (options.stateful) {
        expect(listed.map((k) => k.id)).toContain(key.id);
        expect(listed.every((k) => !('secret' in k))).toBe(true);
      }
    });

    it('manages teams and their members', async () => {
      const team = await unwrap(client.POST('/api/v1/teams', { body: { name: `Team ${uniqueHost()}`.slice(0, 100) } }));
      const path = { team_id: team.id };
      await unwrap(client.GET('/api/v1/teams', { params: { query: { sort: 'name:asc' } } }));
      await unwrap(client.GET('/api/v1/teams/{team_id}', { params: { path } }));
      const updated = await unwrap(client.PATCH('/api/v1/teams/{team_id}', { params: { path }, body: { description: 'Contract team' } }));
      const user = await unwrap(client.POST('/api/v1/admin/users', { body: { email: `member@${uniqueHost()}`, name: 'Member', role: 'viewer' } }));
      const added = await client.POST('/api/v1/teams/{team_id}/members', { params: { path }, body: { user_id: user.id } });
      expect(added.response.status).toBe(201);
      const members = await unwrap(client.GET('/api/v1/teams/{team_id}/members', { params: { path } }));
      const removed = await client.DELETE('/api/v1/teams/{team_id}/members/{user_id}', { params: { path: { ...path, user_id: user.id } } });
      expect(removed.response.status).toBe(204);
      const deleted = await client.DELETE('/api/v1/teams/{team_id}', { params: { path } });
      expect(deleted.response.status).toBe(204);
      if (options.stateful) {
        expect(updated.description).toBe('Contract team');
        expect(members.map((m) => m.user_id)).toContain(user.id);
        expect(user.one_time_password).toBeTruthy();
      }
    });

    it('administers users, reads roles and the audit log', async () => {
      const user = await unwrap(client.POST('/api/v1/admin/users', { body: { email: `someone@${uniqueHost()}`, name: 'Someone', role: 'viewer' } }));
      const path = { user_id: user.id };
      await unwrap(client.GET('/api/v1/admin/users', { params: { query: { role: 'viewer', sort: 'email:asc' } } }));
      await unwrap(client.GET('/api/v1/admin/users/{user_id}', { params: { path } }));
      const promoted = await unwrap(client.PATCH('/api/v1/admin/users/{user_id}', { params: { path }, body: { role: 'operator' } }));
      const deleted = await client.DELETE('/api/v1/admin/users/{user_id}', { params: { path } });
      expect(deleted.response.status).toBe(204);
      const roles = await unwrap(client.GET('/api/v1/admin/roles'));
      const audit = await unwrap(client.GET('/api/v1/admin/audit', { params: { query: { limit: 10 } } }));
      expect(roles.length).toBeGreaterThan(0);
      if (options.stateful) {
        expect(promoted.role).toBe('operator');
        expect(roles.map((r) => r.name).sort()).toEqual(['admin', 'operator', 'viewer']);
        expect(audit.some((e) => e.operation_id === 'createUser')).toBe(true);
      }
    });

    it('enrols a host, runs actions as tasks through the agent protocol, and cancels and retries them', async () => {
      const [team] = await unwrap(client.GET('/api/v1/teams'));
      const teamPath = { team_id: team!.id };
      const token = await unwrap(client.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: teamPath }, body: { name: 'contract', max_uses: 5 } }));
      await unwrap(client.GET('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: teamPath } }));
      const enrolled = await unwrap(
        clientWith(undefined).POST('/api/v1/agent/enroll', { body: { enrollment_token: token.secret, hostname: uniqueHost(), ip_address: '10.90.0.1', platform: 'linux' } }),
      );
      const asAgent = createOpsdeckClient({ baseUrl: target.url, retries: false, apiKey: enrolled.agent_key });
      asAgent.use(checker.middleware);
      const beat = await unwrap(asAgent.POST('/api/v1/agent/heartbeat'));
      const agentPath = { agent_id: enrolled.agent.id };
      const reboot = await client.POST('/api/v1/agents/{agent_id}/actions/reboot', { params: { path: agentPath }, body: { reason: 'contract' } });
      expect(reboot.response.status).toBe(202);
      // Location is the task, in the mock's example as on the server, and the GetTask link leads there too.
      expect(reboot.response.headers.get('location')).toBe(reboot.data!.data.status_url);
      expect(reboot.data!.data.status_url).toBe(`/api/v1/tasks/${reboot.data!.data.task_id}`);
      expect(linkedPath('rebootAgent', '202', 'GetTask', { body: reboot.data })).toBe(reboot.data!.data.status_url);
      await unwrap(client.POST('/api/v1/agents/{agent_id}/actions/shutdown', { params: { path: agentPath }, body: {} }));
      await unwrap(client.POST('/api/v1/agents/{agent_id}/actions/update-agent', { params: { path: agentPath }, body: { version: '2.5.0' } }));
      const command = await unwrap(client.POST('/api/v1/agents/{agent_id}/actions/command', { params: { path: agentPath }, body: { command: 'uptime' } }));
      const claimed = await unwrap(asAgent.POST('/api/v1/agent/tasks/claim', { body: { max_tasks: 1 } }));
      const first = claimed[0]!;
      const done = await unwrap(
        asAgent.POST('/api/v1/agent/tasks/{task_id}/progress', { params: { path: { task_id: first.id } }, body: { progress: 100, logs: ['rebooted'], status: 'succeeded' } }),
      );
      const taskPath = { task_id: reboot.data!.data.task_id };
      await unwrap(client.GET('/api/v1/tasks', { params: { query: { agent_id: enrolled.agent.id } } }));
      const task = await unwrap(client.GET('/api/v1/tasks/{task_id}', { params: { path: taskPath } }));
      const logs = await unwrap(client.GET('/api/v1/tasks/{task_id}/logs', { params: { path: taskPath } }));
      const cancelled = await unwrap(client.POST('/api/v1/tasks/{task_id}/cancel', { params: { path: { task_id: command.task_id } } }));
      const retried = await client.POST('/api/v1/tasks/{task_id}/retry', { params: { path: { task_id: command.task_id } } });
      expect(retried.response.status).toBe(202);
      const revoked = await client.DELETE('/api/v1/teams/{team_id}/enrollment-tokens/{token_id}', { params: { path: { ...teamPath, token_id: token.id } } });
      expect(revoked.response.status).toBe(204);
      if (options.stateful) {
        expect(beat).toMatchObject({ agent_id: enrolled.agent.id, status: 'online', pending_tasks: 0 });
        expect(first.id).toBe(taskPath.task_id);
        expect(done).toMatchObject({ status: 'succeeded', progress: 100 });
        expect(task.status).toBe('succeeded');
        expect(logs.map((l) => l.line)).toEqual(['rebooted']);
        expect(cancelled.status).toBe('cancelled');
      }
    });

    it('manages agent groups and their members, and filters agents by group', async () => {
      const agent = await unwrap(client.POST('/api/v1/agents', { body: { hostname: uniqueHost(), ip_address: '10.95.0.1', platform: 'linux' } }));
      const created = await client.POST('/api/v1/agent-groups', { body: { name: `Group ${uniqueHost()}`.slice(0, 100), description: 'Contract group' } });
      expect(created.response.status).toBe(201);
      const group = created.data!.data;
      const path = { group_id: group.id };
      await unwrap(client.GET('/api/v1/agent-groups', { params: { query: { sort: 'name:asc', search: 'Group' } } }));
      const trimmed = await unwrap(client.GET('/api/v1/agent-groups', { params: { query: { fields: ['name'], limit: 5 } } }));
      await unwrap(client.GET('/api/v1/agent-groups/{group_id}', { params: { path } }));
      const updated = await unwrap(client.PATCH('/api/v1/agent-groups/{group_id}', { params: { path }, body: { description: null } }));
      const added = await unwrap(client.POST('/api/v1/agent-groups/{group_id}/members', { params: { path }, body: { agent_ids: [agent.id] } }));
      const members = await unwrap(client.GET('/api/v1/agent-groups/{group_id}/members', { params: { path, query: { limit: 10 } } }));
      const filtered = await unwrap(client.GET('/api/v2/agents', { params: { query: { group_id: group.id, cursor: '' } } }));
      const summary = await unwrap(client.GET('/api/v1/agents/summary', { params: { query: { group_id: group.id } } }));
      await expectError(
        unwrap(client.POST('/api/v1/agent-groups/{group_id}/members', { params: { path }, body: { agent_ids: ['0192f0c1-0000-7000-8000-000000000000'] }, ...prefer(422) })),
        422,
        ['BIZ_AGENT_NOT_IN_TEAM', 'VAL_MULTIPLE_ERRORS'],
      );
      const removed = await client.DELETE('/api/v1/agent-groups/{group_id}/members/{agent_id}', { params: { path: { ...path, agent_id: agent.id } } });
      expect(removed.response.status).toBe(204);
      const deleted = await client.DELETE('/api/v1/agent-groups/{group_id}', { params: { path } });
      expect(deleted.response.status).toBe(204);
      await expectError(unwrap(client.GET('/api/v1/agent-groups/{group_id}', { params: { path }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      if (options.stateful) {
        expect(created.response.headers.get('location')).toBe(`/api/v1/agent-groups/${group.id}`);
        expect(updated.description).toBeNull();
        for (const item of trimmed) expect(Object.keys(item).sort()).toEqual(['id', 'name']);
        expect(added).toEqual({ added: [agent.id], already_members: [] });
        expect(members.map((m) => m.id)).toEqual([agent.id]);
        expect(filtered.map((a) => a.id)).toEqual([agent.id]);
        expect(summary.total).toBe(1);
      }
    });

    it('records deployments, moves them along their statuses, lists them and rolls one back', async () => {
      const service = `contract-${process.pid}-${Date.now().toString(36)}-${(serial += 1)}`;
      const first = await client.POST('/api/v1/deployments', { body: { service, version: 'v1.0.0', environment: 'staging' } });
      expect(first.response.status).toBe(201);
      const firstPath = { deployment_id: first.data!.data.id };
      await unwrap(client.PATCH('/api/v1/deployments/{deployment_id}', { params: { path: firstPath }, body: { status: 'running' } }));
      await unwrap(client.PATCH('/api/v1/deployments/{deployment_id}', { params: { path: firstPath }, body: { status: 'succeeded' } }));
      const second = await unwrap(client.POST('/api/v1/deployments', { body: { service, version: 'v1.1.0', environment: 'staging' } }));
      const path = { deployment_id: second.id };
      await unwrap(client.PATCH('/api/v1/deployments/{deployment_id}', { params: { path }, body: { status: 'running' } }));
      const done = await unwrap(client.PATCH('/api/v1/deployments/{deployment_id}', { params: { path }, body: { status: 'failed' } }));
      const rollback = await client.POST('/api/v1/deployments/{deployment_id}/rollback', { params: { path } });
      expect(rollback.response.status).toBe(202);
      const accepted = rollback.data!.data;
      const fetched = await unwrap(client.GET('/api/v1/deployments/{deployment_id}', { params: { path: { deployment_id: accepted.rollback_id } } }));
      const listed = await unwrap(client.GET('/api/v1/deployments', { params: { query: { service, environment: 'staging', status: 'pending', sort: 'created_at:asc' } } }));
      await expectError(
        unwrap(client.GET('/api/v1/deployments/{deployment_id}', { params: { path: { deployment_id: '0192f2b0-0000-7000-8000-000000000000' } }, ...prefer(404) })),
        404,
        ['RES_NOT_FOUND'],
      );
      if (options.stateful) {
        expect(second.previous_version).toBe('v1.0.0');
        expect(done).toMatchObject({ status: 'failed', duration_seconds: expect.any(Number) });
        expect(rollback.response.headers.get('location')).toBe(accepted.status_url);
        expect(fetched).toMatchObject({ version: 'v1.0.0', previous_version: 'v1.1.0', rollback_of: second.id, status: 'pending' });
        expect(listed.map((d) => d.id)).toEqual([accepted.rollback_id]);
      }
    });

    it('manages pipelines and their runs, and updates pipelines in bulk', async () => {
      const name = `contract ${process.pid}-${Date.now().toString(36)}-${(serial += 1)}`;
      const created = await client.POST('/api/v1/pipelines', { body: { name, repository: 'github.com/opsdeck/contract' } });
      expect(created.response.status).toBe(201);
      const path = { pipeline_id: created.data!.data.id };
      await unwrap(client.GET('/api/v1/pipelines', { params: { query: { search: 'contract', status: 'active', sort: 'name:asc' } } }));
      await unwrap(client.GET('/api/v1/pipelines/{pipeline_id}', { params: { path } }));
      const updated = await unwrap(client.PATCH('/api/v1/pipelines/{pipeline_id}', { params: { path }, body: { branch: 'release' } }));
      const run = await client.POST('/api/v1/pipelines/{pipeline_id}/runs', { params: { path }, body: { commit_sha: '9fceb02d0ae598e95dc970b74767f19372d61af8' } });
      expect(run.response.status).toBe(201);
      const runPath = { ...path, run_id: run.data!.data.id };
      await unwrap(client.GET('/api/v1/pipelines/{pipeline_id}/runs/{run_id}', { params: { path: runPath } }));
      const running = await unwrap(client.PATCH('/api/v1/pipelines/{pipeline_id}/runs/{run_id}', { params: { path: runPath }, body: { status: 'running' } }));
      const runs = await unwrap(client.GET('/api/v1/pipelines/{pipeline_id}/runs', { params: { path, query: { sort: 'number:desc' } } }));
      const bulk = await unwrap(client.PATCH('/api/v1/pipelines/bulk', { body: { filter: { name_contains: name }, set: { status: 'paused' } } }));
      const deleted = await client.DELETE('/api/v1/pipelines/{pipeline_id}', { params: { path } });
      expect(deleted.response.status).toBe(204);
      await expectError(unwrap(client.GET('/api/v1/pipelines/{pipeline_id}', { params: { path }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      if (options.stateful) {
        expect(updated).toMatchObject({ name, branch: 'release', status: 'active' });
        expect(running).toMatchObject({ number: 1, status: 'running' });
        expect(runs.map((r) => r.id)).toEqual([runPath.run_id]);
        expect(bulk).toEqual({ matched: 1, updated: 1 });
      }
    });

    it('raises alerts one by one and in bulk, acknowledges and resolves them', async () => {
      const agent = await unwrap(client.POST('/api/v1/agents', { body: { hostname: uniqueHost(), ip_address: '10.96.0.1', platform: 'linux' } }));
      const fingerprint = `contract:${uniqueHost()}`;
      const created = await client.POST('/api/v1/alerts', { body: { agent_id: agent.id, title: 'Disk /var above 90%', severity: 'critical', source: 'prometheus', fingerprint } });
      expect(created.response.status).toBe(201);
      const alert = created.data!.data;
      const path = { alert_id: alert.id };
      const listed = await unwrap(client.GET('/api/v1/alerts', { params: { query: { agent_id: agent.id, severity: 'critical', status: 'open', sort: 'severity:desc,created_at:desc' } } }));
      const fetched = await unwrap(client.GET('/api/v1/alerts/{alert_id}', { params: { path } }));
      await expectError(unwrap(client.POST('/api/v1/alerts', { body: { agent_id: agent.id, title: 'Again', severity: 'critical', fingerprint }, ...prefer(409) })), 409, ['RES_ALREADY_EXISTS']);
      const acknowledged = await unwrap(client.POST('/api/v1/alerts/{alert_id}/acknowledge', { params: { path } }));
      // Prism answers a 409 with the response's first example; the server with the rule's own code.
      const conflict = (code: string) => (options.stateful ? [code] : ['RES_ALREADY_EXISTS']);
      await expectError(unwrap(client.POST('/api/v1/alerts/{alert_id}/acknowledge', { params: { path }, ...prefer(409) })), 409, conflict('BIZ_ALERT_ALREADY_ACKNOWLEDGED'));
      const resolved = await unwrap(client.POST('/api/v1/alerts/{alert_id}/resolve', { params: { path } }));
      await expectError(unwrap(client.POST('/api/v1/alerts/{alert_id}/resolve', { params: { path }, ...prefer(409) })), 409, conflict('BIZ_ALERT_RESOLVED'));
      await expectError(unwrap(client.GET('/api/v1/alerts/{alert_id}', { params: { path: { alert_id: '0192f2b0-0000-7000-8000-000000000000' } }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      const bulk = await client.POST('/api/v1/alerts/bulk', {
        body: {
          alerts: [
            { agent_id: agent.id, title: 'Load above 8', severity: 'warning', source: 'prometheus' },
            { title: 'No severity' },
            { agent_id: '0192f0c1-0000-7000-8000-000000000000', title: 'Gone', severity: 'info' },
          ],
        },
      });
      expect(bulk.response.status).toBe(200);
      expect(bulk.data!.data.created + bulk.data!.data.failed).toBe(bulk.data!.data.results.length);
      await expectError(unwrap(client.POST('/api/v1/alerts/bulk', { body: { alerts: [] }, ...prefer(422) })), 422, ['VAL_ERROR', 'VAL_MULTIPLE_ERRORS']);
      if (options.stateful) {
        expect(alert).toMatchObject({ agent_id: agent.id, team_id: agent.team_id, status: 'open', fingerprint });
        expect(listed.map((a) => a.id)).toEqual([alert.id]);
        expect(fetched).toEqual(alert);
        expect(acknowledged.status).toBe('acknowledged');
        expect(resolved).toMatchObject({ status: 'resolved', acknowledged_by: acknowledged.acknowledged_by });
        expect(bulk.data!.data).toMatchObject({
          created: 1,
          failed: 2,
          results: [{ index: 0, status: 'created' }, { index: 1, status: 'failed', error: { code: 'VAL_REQUIRED_FIELD' } }, { index: 2, status: 'failed', error: { code: 'RES_NOT_FOUND' } }],
        });
      }
    });

    it('registers a webhook, pings it, reads and redelivers its deliveries, turns it off and deletes it', async () => {
      const [team] = await unwrap(client.GET('/api/v1/teams'));
      // A closed local port: the real server of this suite allows private targets, and nothing listens there.
      const url = 'http://127.0.0.1:9/contract';
      const created = await client.POST('/api/v1/webhooks', { body: { url, events: ['alert.triggered', 'task.failed'], description: 'Contract hook', team_id: team!.id } });
      expect(created.response.status).toBe(201);
      const webhook = created.data!.data;
      expect(webhook.secret).toBeTruthy();
      const path = { webhook_id: webhook.id };
      const listed = await unwrap(client.GET('/api/v1/webhooks', { params: { query: { active: true, team_id: team!.id, sort: 'updated_at:desc', limit: 100 } } }));
      await unwrap(client.GET('/api/v1/webhooks', { params: { query: { limit: 1, cursor: '' } } }));
      const fetched = await unwrap(client.GET('/api/v1/webhooks/{webhook_id}', { params: { path } }));
      const updated = await unwrap(client.PATCH('/api/v1/webhooks/{webhook_id}', { params: { path }, body: { description: null, events: ['alert.triggered'] } }));
      const pinged = await client.POST('/api/v1/webhooks/{webhook_id}/ping', { params: { path } });
      expect(pinged.response.status).toBe(202);
      const ping = pinged.data!.data;
      const deliveryPath = { ...path, delivery_id: ping.id };
      const deliveries = await unwrap(client.GET('/api/v1/webhooks/{webhook_id}/deliveries', { params: { path, query: { event: 'webhook.ping', sort: 'created_at:asc' } } }));
      await unwrap(client.GET('/api/v1/webhooks/{webhook_id}/deliveries', { params: { path, query: { status: 'failed', limit: 10, cursor: '' } } }));
      const detail = await unwrap(client.GET('/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}', { params: { path: deliveryPath } }));
      const redelivered = await client.POST('/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver', { params: { path: deliveryPath } });
      expect(redelivered.response.status).toBe(202);
      await expectError(
        unwrap(client.POST('/api/v1/webhooks', { body: { url: 'ftp://127.0.0.1/contract', events: ['alert.triggered'] }, ...prefer(422) })),
        422,
        ['VAL_ERROR', 'VAL_MULTIPLE_ERRORS', 'VAL_INVALID_FORMAT', 'VAL_WEBHOOK_TARGET_FORBIDDEN'],
      );
      const off = await unwrap(client.PATCH('/api/v1/webhooks/{webhook_id}', { params: { path }, body: { active: false } }));
      // Prism answers a 409 with the response's first example; the server with the rule's own code.
      await expectError(unwrap(client.POST('/api/v1/webhooks/{webhook_id}/ping', { params: { path }, ...prefer(409) })), 409, options.stateful ? ['BIZ_WEBHOOK_DISABLED'] : ['RES_ALREADY_EXISTS']);
      const deleted = await client.DELETE('/api/v1/webhooks/{webhook_id}', { params: { path } });
      expect(deleted.response.status).toBe(204);
      await expectError(unwrap(client.GET('/api/v1/webhooks/{webhook_id}', { params: { path }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      if (options.stateful) {
        const { secret: _secret, ...withoutSecret } = webhook;
        expect(created.response.headers.get('location')).toBe(`/api/v1/webhooks/${webhook.id}`);
        expect(webhook).toMatchObject({ url, team_id: team!.id, active: true, secret_hint: `…${webhook.secret.slice(-4)}` });
        expect(listed.map((w) => w.id)).toContain(webhook.id);
        expect(fetched).toEqual(withoutSecret);
        expect(updated).toMatchObject({ description: null, events: ['alert.triggered'] });
        expect(pinged.response.headers.get('location')).toBe(`/api/v1/webhooks/${webhook.id}/deliveries/${ping.id}`);
        expect(deliveries.map((d) => d.id)).toEqual([ping.id]);
        expect(detail.payload).toMatchObject({ id: ping.event_id, event: 'webhook.ping', data: { webhook_id: webhook.id } });
        expect(redelivered.data!.data).toMatchObject({ event_id: ping.event_id, redelivery_of: ping.id });
        expect(off).toMatchObject({ active: false });
      }
    });

    it('takes an agent\'s inventory and metrics, and reads them per agent and across the fleet', async () => {
      const [team] = await unwrap(client.GET('/api/v1/teams'));
      const token = await unwrap(client.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: { team_id: team!.id } }, body: { name: 'inventory contract' } }));
      const enrolled = await unwrap(
        clientWith(undefined).POST('/api/v1/agent/enroll', { body: { enrollment_token: token.secret, hostname: uniqueHost(), ip_address: '10.91.0.1', platform: 'linux' } }),
      );
      const asAgent = createOpsdeckClient({ baseUrl: target.url, retries: false, apiKey: enrolled.agent_key });
      asAgent.use(checker.middleware);
      const path = { agent_id: enrolled.agent.id };
      const missing = { agent_id: '0192f0c1-0000-7000-8000-000000000000' };
      await expectError(unwrap(client.GET('/api/v1/agents/{agent_id}/hardware', { params: { path: missing }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      const report = {
        packages: [
          { name: 'openssl', version: '3.0.13-0ubuntu3.4', available_version: '3.0.13-0ubuntu3.5', architecture: 'amd64' },
          { name: 'nginx', version: '1.24.0-2ubuntu7' },
        ],
        services: [{ name: 'nginx.service', state: 'running' as const, enabled: true }],
        hardware: { cpu_model: 'AMD EPYC 7R13 Processor', cpu_cores: 8, memory_bytes: 34359738368, disk_bytes: 536870912000 },
      };
      const summary = await unwrap(asAgent.PUT('/api/v1/agent/inventory', { body: report }));
      await expectError(
        unwrap(asAgent.PUT('/api/v1/agent/inventory', { body: { ...report, packages: [...report.packages, report.packages[0]!] }, ...prefer(422) })),
        422,
        ['VAL_ERROR', 'VAL_MULTIPLE_ERRORS'],
      );
      const at = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000);
      const metrics = await asAgent.POST('/api/v1/agent/metrics', { body: { samples: [{ name: 'cpu_usage', at: at.toISOString(), value: 42.5 }] } });
      expect(metrics.response.status).toBe(204);
      const packages = await unwrap(client.GET('/api/v1/agents/{agent_id}/packages', { params: { path, query: { version_gt: '2', sort: 'name:asc' } } }));
      const services = await unwrap(client.GET('/api/v1/agents/{agent_id}/services', { params: { path, query: { state: 'running' } } }));
      const hardware = await unwrap(client.GET('/api/v1/agents/{agent_id}/hardware', { params: { path } }));
      const end = new Date(at.getTime() + 3_600_000);
      const series = await unwrap(
        client.GET('/api/v1/agents/{agent_id}/metrics', { params: { path, query: { name: 'cpu_usage', start_date: at.toISOString(), end_date: end.toISOString(), bucket: '1h', aggregate: 'max' } } }),
      );
      const found = await unwrap(client.GET('/api/v1/inventory/packages/search', { params: { query: { name: 'openssl', has_update: true } } }));
      const updates = await unwrap(client.GET('/api/v1/inventory/packages/updates', { params: { query: { name: 'openssl', limit: 10, cursor: '' } } }));
      if (options.stateful) {
        expect(summary).toMatchObject({ agent_id: enrolled.agent.id, packages: 2, services: 1, updates_available: 1 });
        expect(packages.map((p) => p.name)).toEqual(['openssl']);
        expect(services).toEqual(report.services);
        expect(hardware).toMatchObject({ ...report.hardware, agent_id: enrolled.agent.id, architecture: null });
        expect(series.points).toEqual([{ at: at.toISOString(), value: 42.5, samples: 1 }]);
        expect(found.map((p) => p.agent_id)).toContain(enrolled.agent.id);
        expect(updates.find((u) => u.version === '3.0.13-0ubuntu3.4')?.agents).toBeGreaterThanOrEqual(1);
      }
    });

    it('streams live events to the SDK as Server-Sent Events, and refuses a caller without credentials or a channel’s permission', async () => {
      // The mock answers the spec's example stream (then ends it); the real server, the alert raised once the stream is open.
      const received: StreamEvent[] = [];
      let opened = false;
      const subscription = subscribeEvents(client, { channels: ['alerts'], onOpen: () => void (opened = true), onEvent: (event) => void received.push(event) });
      const until = async (check: () => boolean, what: string) => {
        const deadline = Date.now() + 10_000;
        while (!check()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      await until(() => opened, 'the stream to open');
      const alert = options.stateful ? await unwrap(client.POST('/api/v1/alerts', { body: { title: 'Streamed', severity: 'info' } })) : undefined;
      await until(() => received.some((e) => e.event === 'alert.triggered' && (!alert || e.data.id === alert.id)), 'an alert.triggered');
      subscription.close();
      await subscription.closed;
      // Every message the stream brought was checked against StreamEvent.
      await checker.settled();
      expect(subscription.lastEventId).toMatch(/^[0-9]+$/);

      const anonymous = subscribeEvents(clientWith(undefined), { onEvent: () => {} });
      await expect(anonymous.closed).rejects.toMatchObject({ status: 401, code: 'AUTH_REQUIRED' });
      const key = await unwrap(client.POST('/api/v1/api-keys', { body: { name: 'contract events', scopes: ['events:subscribe', 'alerts:read'] } }));
      const alertsOnly = createOpsdeckClient({ baseUrl: target.url, retries: false, apiKey: key.secret });
      alertsOnly.use(checker.middleware, { onRequest: ({ request }) => void request.headers.set('Prefer', 'code=403') });
      const denied = subscribeEvents(alertsOnly, { channels: ['tasks'], onEvent: () => {} });
      await expect(denied.closed).rejects.toMatchObject({ status: 403, code: 'PERM_DENIED' });
    });

    it('schedules a fleet-wide task on a cron expression, reads, lists, changes and deletes the schedule, and lists its executions', async () => {
      const body = {
        name: `Schedule ${uniqueHost()}`.slice(0, 100),
        cron: '0 3 * * SUN',
        timezone: 'Europe/Berlin',
        missed_runs: 'run_once' as const,
        run: { action: { type: 'reboot' as const, parameters: { reason: 'Contract patch window' } }, target: { agent_ids: ['0192f0c1-0000-7000-8000-000000000000'] } },
      };
      const created = await client.POST('/api/v1/tasks/schedules', { body });
      expect(created.response.status).toBe(201);
      const schedule = created.data!.data;
      const path = { schedule_id: schedule.id };
      expect(linkedPath('createTaskSchedule', '201', 'GetTaskSchedule', { body: created.data })).toBe(`/api/v1/tasks/schedules/${schedule.id}`);
      const listed = await unwrap(client.GET('/api/v1/tasks/schedules', { params: { query: { sort: 'created_at:desc', enabled: true, limit: 5 } } }));
      const trimmed = await unwrap(client.GET('/api/v1/tasks/schedules', { params: { query: { fields: ['name', 'next_runs'], cursor: '' } } }));
      const fetched = await unwrap(client.GET('/api/v1/tasks/schedules/{schedule_id}', { params: { path } }));
      const updated = await unwrap(client.PATCH('/api/v1/tasks/schedules/{schedule_id}', { params: { path }, body: { enabled: false } }));
      const executions = await unwrap(client.GET('/api/v1/tasks/schedules/{schedule_id}/executions', { params: { path, query: { limit: 10, sort: 'due_at:asc', status: 'fired' } } }));
      await expectError(
        unwrap(client.POST('/api/v1/tasks/schedules', { body: { ...body, name: `Bad ${uniqueHost()}`.slice(0, 100), cron: 'at noon' }, ...prefer(422) })),
        422,
        ['VAL_INVALID_FORMAT', 'VAL_MULTIPLE_ERRORS'],
      );
      // The literal collection stands beside task ids: a task id still reaches getTask.
      await expectError(unwrap(client.GET('/api/v1/tasks/{task_id}', { params: { path: { task_id: '0192f1a0-0000-7000-8000-000000000000' } }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      const deleted = await client.DELETE('/api/v1/tasks/schedules/{schedule_id}', { params: { path } });
      expect(deleted.response.status).toBe(204);
      await expectError(unwrap(client.GET('/api/v1/tasks/schedules/{schedule_id}', { params: { path }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      if (options.stateful) {
        expect(created.response.headers.get('location')).toBe(`/api/v1/tasks/schedules/${schedule.id}`);
        expect(schedule).toMatchObject({ ...body, enabled: true, last_execution: null });
        expect(schedule.next_runs).toHaveLength(5);
        expect(fetched).toEqual(schedule);
        expect(listed.map((s) => s.id)).toContain(schedule.id);
        for (const item of trimmed) expect(Object.keys(item).sort()).toEqual(['id', 'name', 'next_runs']);
        expect(updated).toMatchObject({ enabled: false, next_runs: [] });
        expect(executions).toEqual([]);
      }
    });

    it('runs an action on a group as a fleet task, lists its children and an agent\'s tasks, and cancels it', async () => {
      const [team] = await unwrap(client.GET('/api/v1/teams'));
      const token = await unwrap(client.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: { team_id: team!.id } }, body: { name: 'contract fleet', max_uses: 2 } }));
      const hosts = [];
      for (const address of ['10.96.0.1', '10.96.0.2']) {
        hosts.push(await unwrap(clientWith(undefined).POST('/api/v1/agent/enroll', { body: { enrollment_token: token.secret, hostname: uniqueHost(), ip_address: address, platform: 'linux' } })));
      }
      const group = await unwrap(client.POST('/api/v1/agent-groups', { body: { name: `contract fleet ${uniqueHost()}` } }));
      await unwrap(client.POST('/api/v1/agent-groups/{group_id}/members', { params: { path: { group_id: group.id } }, body: { agent_ids: hosts.map((h) => h.agent.id) } }));
      const created = await client.POST('/api/v1/tasks', { body: { action: { type: 'reboot', parameters: { reason: 'contract' } }, target: { group_id: group.id }, concurrency: 1 } });
      expect(created.response.status).toBe(202);
      expect(created.response.headers.get('location')).toBe(created.data!.data.status_url);
      expect(linkedPath('createTask', '202', 'GetTask', { body: created.data })).toBe(created.data!.data.status_url);
      const parentPath = { task_id: created.data!.data.task_id };
      const parent = await unwrap(client.GET('/api/v1/tasks/{task_id}', { params: { path: parentPath } }));
      const kids = await unwrap(client.GET('/api/v1/tasks', { params: { query: { parent_id: parentPath.task_id, kind: 'agent' } } }));
      const agentPath = { agent_id: hosts[0]!.agent.id };
      const own = await client.POST('/api/v1/agents/{agent_id}/tasks', { params: { path: agentPath }, body: { action: { type: 'command', parameters: { command: 'uptime' } } } });
      expect(own.response.status).toBe(202);
      expect(own.response.headers.get('location')).toBe(own.data!.data.status_url);
      const ofAgent = await unwrap(client.GET('/api/v1/agents/{agent_id}/tasks', { params: { path: agentPath, query: { status: 'pending' } } }));
      await expectError(unwrap(client.POST('/api/v1/tasks', { body: { action: { type: 'reboot' }, target: {} } as never, ...prefer(422) })), 422, ['VAL_INVALID_FORMAT', 'VAL_ERROR', 'VAL_MULTIPLE_ERRORS', 'VAL_REQUIRED_FIELD']);
      await expectError(
        unwrap(client.GET('/api/v1/agents/{agent_id}/tasks', { params: { path: { agent_id: '0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c00' } }, ...prefer(404) })),
        404,
        ['RES_NOT_FOUND'],
      );
      const cancelled = await unwrap(client.POST('/api/v1/tasks/{task_id}/cancel', { params: { path: parentPath } }));
      if (options.stateful) {
        expect(parent).toMatchObject({ kind: 'fleet', agent_id: null, status: 'pending', fleet: { total: 2, concurrency: 1, counts: { pending: 2 } } });
        expect(kids.map((k) => k.parent_id)).toEqual([parentPath.task_id, parentPath.task_id]);
        expect(ofAgent.map((t) => t.id)).toContain(own.data!.data.task_id);
        expect(cancelled).toMatchObject({ status: 'cancelled', fleet: { counts: { cancelled: 2, pending: 0 } } });
      }
    });

    it('manages task templates and their versions, beside task ids', async () => {
      const body = {
        name: `Template ${uniqueHost()}`.slice(0, 100),
        action: 'command' as const,
        defaults: { command: 'systemctl', args: ['restart', 'nginx'] },
        parameters_schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 3, maxLength: 200 } } },
      };
      const created = await client.POST('/api/v1/tasks/templates', { body });
      expect(created.response.status).toBe(201);
      const template = created.data!.data;
      const path = { template_id: template.id };
      const listed = await unwrap(client.GET('/api/v1/tasks/templates', { params: { query: { sort: 'name:asc', action: 'command', search: 'Template' } } }));
      const trimmed = await unwrap(client.GET('/api/v1/tasks/templates', { params: { query: { fields: ['name', 'version'], limit: 5, cursor: '' } } }));
      const fetched = await client.GET('/api/v1/tasks/templates/{template_id}', { params: { path } });
      expect(fetched.response.status).toBe(200);
      const etag = fetched.response.headers.get('etag')!;
      expect(etag).toBeTruthy();
      const updated = await unwrap(
        client.PATCH('/api/v1/tasks/templates/{template_id}', { params: { path, header: { 'If-Match': etag } }, body: { defaults: { command: 'systemctl', args: ['reload', 'nginx'] } } }),
      );
      await expectError(
        unwrap(client.PATCH('/api/v1/tasks/templates/{template_id}', { params: { path, header: { 'If-Match': etag } }, body: { description: 'stale' }, ...prefer(412) })),
        412,
        ['RES_PRECONDITION_FAILED'],
      );
      await expectError(
        unwrap(client.PATCH('/api/v1/tasks/templates/{template_id}', { params: { path }, body: { parameters_schema: { type: 'strin' } }, ...prefer(422) })),
        422,
        ['VAL_INVALID_SCHEMA', 'VAL_MULTIPLE_ERRORS'],
      );
      const versions = await unwrap(client.GET('/api/v1/tasks/templates/{template_id}/versions', { params: { path, query: { sort: 'version:desc', limit: 10 } } }));
      const deleted = await client.DELETE('/api/v1/tasks/templates/{template_id}', { params: { path } });
      expect(deleted.response.status).toBe(204);
      await expectError(unwrap(client.GET('/api/v1/tasks/templates/{template_id}', { params: { path }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      if (options.stateful) {
        expect(created.response.headers.get('location')).toBe(`/api/v1/tasks/templates/${template.id}`);
        expect(template).toMatchObject({ ...body, version: 1 });
        expect(listed.map((t) => t.id)).toContain(template.id);
        for (const item of trimmed) expect(Object.keys(item).sort()).toEqual(['id', 'name', 'version']);
        expect(updated.version).toBe(2);
        expect(versions.map((v) => v.version)).toEqual([2, 1]);
      }
    });

    it('rolls a deployment back with a reason and requested_by, and streams a pipeline run that starts on the pipelines channel', async () => {
      const service = `contract-events-${process.pid}-${Date.now().toString(36)}-${(serial += 1)}`;
      const first = await unwrap(client.POST('/api/v1/deployments', { body: { service, version: 'v1.0.0', environment: 'staging' } }));
      for (const status of ['running', 'succeeded'] as const) await unwrap(client.PATCH('/api/v1/deployments/{deployment_id}', { params: { path: { deployment_id: first.id } }, body: { status } }));
      const second = await unwrap(client.POST('/api/v1/deployments', { body: { service, version: 'v1.1.0', environment: 'staging' } }));
      const path = { deployment_id: second.id };
      for (const status of ['running', 'succeeded'] as const) await unwrap(client.PATCH('/api/v1/deployments/{deployment_id}', { params: { path }, body: { status } }));
      await expectError(unwrap(client.POST('/api/v1/deployments/{deployment_id}/rollback', { params: { path }, body: { reason: ' ' }, ...prefer(422) })), 422, ['VAL_ERROR', 'VAL_MULTIPLE_ERRORS']);
      const body = { reason: 'Error rate above 5% since v1.1.0', requested_by: 'deploy-bot (for ada@example.com)' };
      const accepted = await unwrap(client.POST('/api/v1/deployments/{deployment_id}/rollback', { params: { path }, body }));
      const rollback = await unwrap(client.GET('/api/v1/deployments/{deployment_id}', { params: { path: { deployment_id: accepted.rollback_id } } }));

      // The mock answers the spec's example stream; the real server, the run started once the stream is open.
      const received: StreamEvent[] = [];
      let opened = false;
      const subscription = subscribeEvents(client, { channels: ['pipelines'], onOpen: () => void (opened = true), onEvent: (event) => void received.push(event) });
      const deadline = Date.now() + 10_000;
      const until = async (check: () => boolean, what: string) => {
        while (!check()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      await until(() => opened, 'the stream to open');
      const pipeline = await unwrap(client.POST('/api/v1/pipelines', { body: { name: `contract events ${service}`, repository: 'github.com/opsdeck/contract' } }));
      const run = await unwrap(client.POST('/api/v1/pipelines/{pipeline_id}/runs', { params: { path: { pipeline_id: pipeline.id } }, body: { commit_sha: '9fceb02d0ae598e95dc970b74767f19372d61af8' } }));
      await unwrap(client.PATCH('/api/v1/pipelines/{pipeline_id}/runs/{run_id}', { params: { path: { pipeline_id: pipeline.id, run_id: run.id } }, body: { status: 'running' } }));
      const started = () => received.find((e) => e.event === 'pipeline.run.started' && e.data.id === run.id);
      await until(() => (options.stateful ? started() !== undefined : received.length > 0), 'an event');
      subscription.close();
      await subscription.closed;
      // Every message the stream brought was checked against StreamEvent.
      await checker.settled();
      if (options.stateful) {
        expect(accepted).toMatchObject({ deployment_id: second.id, status: 'pending', ...body });
        expect(rollback).toMatchObject({ rollback_of: second.id, version: 'v1.0.0', ...body });
        expect(started()!.data).toMatchObject({ status: 'running', pipeline_id: pipeline.id });
      }
    });

    it('opens the live WebSocket: a plain GET is refused before any upgrade; on the real server the socket authenticates, subscribes and receives', async () => {
      // fetch cannot ask for an upgrade (it refuses to send `Upgrade`, hence the cast): both targets refuse the request without it.
      const header = { 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } as { Upgrade: 'websocket'; 'Sec-WebSocket-Version': '13'; 'Sec-WebSocket-Key': string };
      await expectError(unwrap(client.GET('/api/v1/events/ws', { params: { header }, ...prefer(400) })), 400, ['VAL_INVALID_PARAMETER', 'VAL_REQUIRED_FIELD', 'VAL_MALFORMED_REQUEST']);
      // Prism cannot switch protocols; the real server's messages are each checked against EventSocketServerMessage.
      if (!options.stateful) return;
      const socket = await TestSocket.open(target.url, target.token);
      try {
        socket.send({ type: 'subscribe', channels: ['alerts'] });
        await socket.next('subscribed');
        const alert = await unwrap(client.POST('/api/v1/alerts', { body: { title: 'Over the socket', severity: 'info' } }));
        await socket.eventAbout(alert.id, 'alert.triggered');
        expect(socket.messages.map((message) => serverMessageProblem(message))).toEqual(socket.messages.map(() => null));
      } finally {
        socket.close();
      }
    });

    it('takes a task artifact from its agent, lists it, and downloads it whole, by range and conditionally', async () => {
      const [team] = await unwrap(client.GET('/api/v1/teams'));
      const token = await unwrap(client.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: { team_id: team!.id } }, body: { name: 'contract artifacts' } }));
      const enrolled = await unwrap(
        clientWith(undefined).POST('/api/v1/agent/enroll', { body: { enrollment_token: token.secret, hostname: uniqueHost(), ip_address: '10.91.0.1', platform: 'linux' } }),
      );
      const asAgent = createOpsdeckClient({ baseUrl: target.url, retries: false, apiKey: enrolled.agent_key });
      asAgent.use(checker.middleware);
      const task = await unwrap(client.POST('/api/v1/agents/{agent_id}/actions/command', { params: { path: { agent_id: enrolled.agent.id } }, body: { command: 'uptime' } }));
      // The bytes of the mock's example, so both targets answer the same file.
      const bytes = 'Rebooting host web-01 for kernel 6.8.0-49\n';
      const send = (name: string, extra: { headers?: Record<string, string> } = {}) =>
        asAgent.POST('/api/v1/agent/tasks/{task_id}/artifacts', {
          params: { path: { task_id: task.task_id }, query: { name } },
          body: bytes,
          bodySerializer: (body: string) => body,
          headers: { 'Content-Type': 'text/plain; charset=utf-8', ...extra.headers },
        });
      const uploaded = await send('reboot.log');
      expect(uploaded.response.status).toBe(201);
      const artifact = uploaded.data!.data;
      expect(uploaded.response.headers.get('location')).toBe(`/api/v1/tasks/${artifact.task_id}/artifacts/${artifact.id}`);
      await expectError(unwrap(send('reboot.log', prefer(409))), 409, ['RES_ALREADY_EXISTS']);
      const listed = await unwrap(client.GET('/api/v1/tasks/{task_id}/artifacts', { params: { path: { task_id: artifact.task_id } } }));
      const path = { task_id: artifact.task_id, artifact_id: artifact.id };
      const whole = await client.GET('/api/v1/tasks/{task_id}/artifacts/{artifact_id}', { params: { path }, parseAs: 'text' });
      expect(whole.response.status).toBe(200);
      expect(whole.data).toBe(bytes);
      const etag = whole.response.headers.get('etag')!;
      const part = await client.GET('/api/v1/tasks/{task_id}/artifacts/{artifact_id}', { params: { path, header: { Range: 'bytes=0-8' } }, parseAs: 'text', ...prefer(206) });
      expect(part.response.status).toBe(206);
      expect(part.data).toBe('Rebooting');
      const unchanged = await client.GET('/api/v1/tasks/{task_id}/artifacts/{artifact_id}', { params: { path, header: { 'If-None-Match': etag } }, parseAs: 'text', ...prefer(304) });
      expect(unchanged.response.status).toBe(304);
      await expectError(
        unwrap(client.GET('/api/v1/tasks/{task_id}/artifacts/{artifact_id}', { params: { path, header: { Range: 'bytes=4096-' } }, ...prefer(416) })),
        416,
        ['VAL_RANGE_NOT_SATISFIABLE'],
      );
      if (options.stateful) {
        expect(artifact).toMatchObject({ task_id: task.task_id, agent_id: enrolled.agent.id, name: 'reboot.log', content_type: 'text/plain; charset=utf-8', size_bytes: bytes.length });
        expect(listed).toEqual([artifact]);
        expect(whole.response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
        expect(part.response.headers.get('content-range')).toBe(`bytes 0-8/${bytes.length}`);
      }
    });

    it('queries metrics across the fleet, with any metric name and labels, and refuses a query past its bounds', async () => {
      const [team] = await unwrap(client.GET('/api/v1/teams'));
      const token = await unwrap(client.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: { team_id: team!.id } }, body: { name: 'metrics contract' } }));
      const enrolled = await unwrap(
        clientWith(undefined).POST('/api/v1/agent/enroll', { body: { enrollment_token: token.secret, hostname: uniqueHost(), ip_address: '10.92.0.1', platform: 'linux' } }),
      );
      const asAgent = createOpsdeckClient({ baseUrl: target.url, retries: false, apiKey: enrolled.agent_key });
      asAgent.use(checker.middleware);
      const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
      const at = new Date(hour).toISOString();
      const reported = await asAgent.POST('/api/v1/agent/metrics', {
        body: { samples: [{ name: 'http_requests_per_second', at, value: 12 }, { name: 'disk_usage', at, value: 71.5, labels: { mount: '/var' } }] },
      });
      expect(reported.response.status).toBe(204);
      const from = new Date(hour).toISOString();
      const to = new Date(hour + 3_600_000).toISOString();
      const answer = await unwrap(
        client.POST('/api/v1/metrics/query', { body: { metrics: ['disk_usage'], from, to, step: 'PT1H', aggregation: 'max', group_by: 'label:mount', filter: { agent_ids: [enrolled.agent.id] } } }),
      );
      await expectError(
        unwrap(client.POST('/api/v1/metrics/query', { body: { metrics: ['disk_usage'], from, to, step: 1, aggregation: 'avg' }, ...prefer(422) })),
        422,
        ['VAL_QUERY_TOO_LARGE', 'VAL_MULTIPLE_ERRORS'],
      );
      if (options.stateful) {
        expect(answer).toMatchObject({ step_seconds: 3600, group_by: 'label:mount', series: [{ metric: 'disk_usage', group: '/var', points: [{ at: from, value: 71.5, samples: 1 }] }] });
      }
    });
    it('saves dashboards of metric queries, with versions and If-Match', async () => {
      const query = { metrics: ['cpu_usage'], from: '2026-11-14T00:00:00Z', to: '2026-11-21T00:00:00Z', step: 'PT1H', aggregation: 'avg' as const, group_by: 'platform' };
      const panels = [{ title: 'CPU by platform', position: { x: 0, y: 0, w: 12, h: 8 }, query }];
      const created = await client.POST('/api/v1/metrics/dashboards', { body: { name: `Dashboard ${uniqueHost()}`.slice(0, 100), description: 'Contract dashboard', panels } });
      expect(created.response.status).toBe(201);
      const dashboard = created.data!.data;
      const path = { dashboard_id: dashboard.id };
      const listed = await unwrap(client.GET('/api/v1/metrics/dashboards', { params: { query: { sort: 'updated_at:desc', search: 'Dashboard', limit: 5 } } }));
      const read = await client.GET('/api/v1/metrics/dashboards/{dashboard_id}', { params: { path } });
      expect(read.response.status).toBe(200);
      const etag = read.response.headers.get('etag')!;
      const updated = await unwrap(client.PATCH('/api/v1/metrics/dashboards/{dashboard_id}', { params: { path }, body: { description: null }, headers: { 'If-Match': etag } }));
      const data = await unwrap(client.GET('/api/v1/metrics/dashboards/{dashboard_id}/data', { params: { path } }));
      await expectError(
        unwrap(client.PATCH('/api/v1/metrics/dashboards/{dashboard_id}', { params: { path }, body: { description: 'stale' }, headers: { 'If-Match': etag, Prefer: 'code=412' } })),
        412,
        ['RES_PRECONDITION_FAILED'],
      );
      const deleted = await client.DELETE('/api/v1/metrics/dashboards/{dashboard_id}', { params: { path } });
      expect(deleted.response.status).toBe(204);
      await expectError(unwrap(client.GET('/api/v1/metrics/dashboards/{dashboard_id}', { params: { path }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      if (options.stateful) {
        expect(created.response.headers.get('location')).toBe(`/api/v1/metrics/dashboards/${dashboard.id}`);
        expect(listed.map((d) => d.id)).toContain(dashboard.id);
        expect(updated).toMatchObject({ description: null, version: 2, panels });
        expect(data).toMatchObject({ dashboard_id: dashboard.id, version: 2, panels: [{ title: 'CPU by platform', result: { step_seconds: 3600, series: [] } }] });
      }
    });

    it('imports OSV advisories as an administrator and lists the vulnerable packages of the fleet and of one agent', async () => {
      const [team] = await unwrap(client.GET('/api/v1/teams'));
      const token = await unwrap(client.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: { team_id: team!.id } }, body: { name: 'vulnerabilities contract' } }));
      const enrolled = await unwrap(
        clientWith(undefined).POST('/api/v1/agent/enroll', {
          body: { enrollment_token: token.secret, hostname: uniqueHost(), ip_address: '10.92.0.1', platform: 'linux', os_version: 'Debian GNU/Linux 12 (bookworm)' },
        }),
      );
      const asAgent = createOpsdeckClient({ baseUrl: target.url, retries: false, apiKey: enrolled.agent_key });
      asAgent.use(checker.middleware);
      const hardware = { cpu_model: 'AMD EPYC 7R13 Processor', cpu_cores: 2, memory_bytes: 4294967296, disk_bytes: 53687091200 };
      await unwrap(asAgent.PUT('/api/v1/agent/inventory', { body: { packages: [{ name: 'openssl', version: '3.0.9-1', architecture: 'amd64' }, { name: 'lodash', version: '4.17.20', ecosystem: 'npm' }], services: [], hardware } }));
      const advisoryId = `DSA-contract-${process.pid}-${(serial += 1)}`;
      const advisory = {
        id: advisoryId,
        aliases: [`CVE-2099-${serial}`],
        summary: 'openssl - security update',
        modified: '2026-11-01T10:00:00Z',
        database_specific: { severity: 'MEDIUM' },
        affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM' as const, events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u1' }] }] }],
      };
      const imported = await unwrap(client.POST('/api/v1/inventory/packages/vulnerabilities/advisories', { body: { advisories: [advisory] } }));
      await expectError(
        unwrap(client.POST('/api/v1/inventory/packages/vulnerabilities/advisories', { body: { advisories: [{ ...advisory, affected: [{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [{ introduced: 'one' }] }] }] }] }, ...prefer(422) })),
        422,
        ['VAL_ERROR', 'VAL_MULTIPLE_ERRORS'],
      );
      const fleet = await unwrap(client.GET('/api/v1/inventory/packages/vulnerabilities', { params: { query: { advisory_id: advisoryId, severity: 'medium', sort: 'severity:desc,hostname:asc', limit: 10 } } }));
      const path = { agent_id: enrolled.agent.id };
      const ofAgent = await unwrap(client.GET('/api/v1/agents/{agent_id}/vulnerabilities', { params: { path, query: { name: 'openssl', cursor: '' } } }));
      const missing = { agent_id: '0192f0c1-0000-7000-8000-000000000000' };
      await expectError(unwrap(client.GET('/api/v1/agents/{agent_id}/vulnerabilities', { params: { path: missing }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      if (options.stateful) {
        expect(imported.results).toEqual([{ id: advisoryId, status: 'created', severity: 'medium', matches: 1 }]);
        expect(fleet.map((v) => [v.agent_id, v.name, v.version, v.ecosystem, v.fixed_versions])).toEqual([[enrolled.agent.id, 'openssl', '3.0.9-1', 'Debian:12', ['3.0.11-1~deb12u1']]]);
        expect(ofAgent.map((v) => v.advisory_id)).toEqual([advisoryId]);
      }
    });

    it('manages alert rules, notification channels and silences, and test-sends a channel', async () => {
      const agent = await unwrap(client.POST('/api/v1/agents', { body: { hostname: uniqueHost(), ip_address: '10.97.0.1', platform: 'linux' } }));
      const invalid = ['VAL_ERROR', 'VAL_MULTIPLE_ERRORS', 'VAL_INVALID_FORMAT', 'VAL_REQUIRED_FIELD'];
      const ruleBody = {
        name: 'CPU above 90%',
        metric: 'cpu_usage' as const,
        scope: { agent_id: agent.id },
        condition: { aggregation: 'avg' as const, window_seconds: 300, operator: '>' as const, threshold: 90 },
        for_seconds: 120,
        severity: 'critical' as const,
        labels: { service: 'web' },
        description_template: 'CPU {{value}}% on {{agent.hostname}}',
      };
      const createdRule = await client.POST('/api/v1/metrics/alerts/rules', { body: ruleBody });
      expect(createdRule.response.status).toBe(201);
      const rule = createdRule.data!.data;
      const rulePath = { rule_id: rule.id };
      const rules = await unwrap(client.GET('/api/v1/metrics/alerts/rules', { params: { query: { sort: 'updated_at:desc', limit: 100 } } }));
      await unwrap(client.GET('/api/v1/metrics/alerts/rules', { params: { query: { limit: 1, cursor: '' } } }));
      const fetchedRule = await unwrap(client.GET('/api/v1/metrics/alerts/rules/{rule_id}', { params: { path: rulePath } }));
      const patchedRule = await unwrap(client.PATCH('/api/v1/metrics/alerts/rules/{rule_id}', { params: { path: rulePath }, body: { enabled: false } }));
      await expectError(unwrap(client.POST('/api/v1/metrics/alerts/rules', { body: { ...ruleBody, severity: 'fatal' as never }, ...prefer(422) })), 422, invalid);

      const createdChannel = await client.POST('/api/v1/metrics/alerts/notifications', {
        // A closed local port: the real server of this suite allows private targets, and nothing listens there.
        body: { name: '#ops-alerts', kind: 'slack', slack_url: 'http://127.0.0.1:9/contract-slack', min_severity: 'warning', label_matchers: { service: 'web' } },
      });
      expect(createdChannel.response.status).toBe(201);
      const channel = createdChannel.data!.data;
      const channelPath = { channel_id: channel.id };
      const channels = await unwrap(client.GET('/api/v1/metrics/alerts/notifications', { params: { query: { sort: 'created_at:asc' } } }));
      const fetchedChannel = await unwrap(client.GET('/api/v1/metrics/alerts/notifications/{channel_id}', { params: { path: channelPath } }));
      const patchedChannel = await unwrap(client.PATCH('/api/v1/metrics/alerts/notifications/{channel_id}', { params: { path: channelPath }, body: { min_severity: 'critical' } }));
      const tested = await client.POST('/api/v1/metrics/alerts/notifications/{channel_id}/test', { params: { path: channelPath } });
      expect(tested.response.status).toBe(202);
      await expectError(unwrap(client.POST('/api/v1/metrics/alerts/notifications', { body: { name: 'x', kind: 'pager' as never }, ...prefer(422) })), 422, invalid);

      const silenceBody = { ends_at: new Date(Date.now() + 3_600_000).toISOString(), matchers: { service: 'web' }, comment: 'Database migration on the web tier' };
      const createdSilence = await client.POST('/api/v1/metrics/alerts/silences', { body: silenceBody });
      expect(createdSilence.response.status).toBe(201);
      const silence = createdSilence.data!.data;
      const silencePath = { silence_id: silence.id };
      const silences = await unwrap(client.GET('/api/v1/metrics/alerts/silences', { params: { query: { limit: 10 } } }));
      const fetchedSilence = await unwrap(client.GET('/api/v1/metrics/alerts/silences/{silence_id}', { params: { path: silencePath } }));
      const patchedSilence = await unwrap(client.PATCH('/api/v1/metrics/alerts/silences/{silence_id}', { params: { path: silencePath }, body: { comment: 'Runs late' } }));

      for (const deleted of [
        await client.DELETE('/api/v1/metrics/alerts/silences/{silence_id}', { params: { path: silencePath } }),
        await client.DELETE('/api/v1/metrics/alerts/notifications/{channel_id}', { params: { path: channelPath } }),
        await client.DELETE('/api/v1/metrics/alerts/rules/{rule_id}', { params: { path: rulePath } }),
      ]) {
        expect(deleted.response.status).toBe(204);
      }
      await expectError(unwrap(client.GET('/api/v1/metrics/alerts/rules/{rule_id}', { params: { path: rulePath }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
      if (options.stateful) {
        expect(createdRule.response.headers.get('location')).toBe(`/api/v1/metrics/alerts/rules/${rule.id}`);
        expect(rule).toMatchObject({ team_id: agent.team_id, enabled: true, no_data_seconds: null, scope: { agent_id: agent.id } });
        expect(rules.map((r) => r.id)).toContain(rule.id);
        expect(fetchedRule).toEqual(rule);
        expect(patchedRule.enabled).toBe(false);
        expect(channel).toMatchObject({ kind: 'slack', slack_url_hint: '…lack', webhook_id: null });
        expect(channels.map((c) => c.id)).toContain(channel.id);
        expect(fetchedChannel).toEqual(channel);
        expect(patchedChannel.min_severity).toBe('critical');
        expect(tested.data!.data).toMatchObject({ channel_id: channel.id, status: 'pending' });
        expect(silence).toMatchObject({ matchers: { service: 'web' }, ends_at: silenceBody.ends_at });
        expect(silences.map((x) => x.id)).toContain(silence.id);
        expect(fetchedSilence).toEqual(silence);
        expect(patchedSilence.comment).toBe('Runs late');
      }
    });

    describe('central configuration: settings, policies, effective configuration', () => {
      it('sets, reads and unsets settings per scope; an agent reads its effective configuration', async () => {
        const [team] = await unwrap(client.GET('/api/v1/teams'));
        const teamScope = { scope: 'team' as const, team_id: team!.id };
        const key = { key: 'heartbeat_interval_seconds' };
        const globals = await unwrap(client.GET('/api/v1/config/settings', { params: { query: { scope: 'global' } } }));
        const written = await client.PUT('/api/v1/config/settings/{key}', { params: { path: key, query: teamScope }, body: { value: 15 } });
        expect([200, 201]).toContain(written.response.status);
        const read = await unwrap(client.GET('/api/v1/config/settings/{key}', { params: { path: key, query: teamScope } }));
        const replaced = await client.PUT('/api/v1/config/settings/{key}', { params: { path: key, query: teamScope }, body: { value: 20 } });
        expect(replaced.response.status).toBe(200);
        await expectError(
          unwrap(client.PUT('/api/v1/config/settings/{key}', { params: { path: key, query: teamScope }, body: { value: 'often' }, ...prefer(422) })),
          422,
          ['VAL_ERROR', 'VAL_MULTIPLE_ERRORS'],
        );
        await expectError(
          unwrap(client.PUT('/api/v1/config/settings/{key}', { params: { path: key, query: teamScope }, body: { value: 25 }, headers: { 'If-Match': '"stale"', Prefer: 'code=412' } })),
          412,
          ['RES_PRECONDITION_FAILED'],
        );
        await expectError(unwrap(client.GET('/api/v1/config/settings/{key}', { params: { path: { key: 'no_such_key' } }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);

        const token = await unwrap(client.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: { team_id: team!.id } }, body: { name: 'contract config' } }));
        const enrolled = await unwrap(
          clientWith(undefined).POST('/api/v1/agent/enroll', { body: { enrollment_token: token.secret, hostname: uniqueHost(), ip_address: '10.91.0.1', platform: 'linux' } }),
        );
        const asAgent = createOpsdeckClient({ baseUrl: target.url, retries: false, apiKey: enrolled.agent_key });
        asAgent.use(checker.middleware);
        const own = await asAgent.GET('/api/v1/agent/config');
        expect(own.response.status).toBe(200);
        const etag = own.response.headers.get('etag');
        expect(etag).toBeTruthy();
        const operatorView = await unwrap(client.GET('/api/v1/agents/{agent_id}/config', { params: { path: { agent_id: enrolled.agent.id } } }));
        await expectError(
          unwrap(client.GET('/api/v1/agents/{agent_id}/config', { params: { path: { agent_id: '0192f0c1-0000-7000-8000-000000000000' } }, ...prefer(404) })),
          404,
          ['RES_NOT_FOUND'],
        );
        const unset = await client.DELETE('/api/v1/config/settings/{key}', { params: { path: key, query: teamScope } });
        expect(unset.response.status).toBe(204);

        expect(globals.map((s) => s.key)).toContain('heartbeat_interval_seconds');
        expect(Object.keys(own.data!.data.settings)).toContain('heartbeat_interval_seconds');
        if (options.stateful) {
          expect(written.response.status).toBe(201);
          expect(written.response.headers.get('location')).toBe(`/api/v1/config/settings/heartbeat_interval_seconds?scope=team&team_id=${team!.id}`);
          expect(read).toMatchObject({ value: 15, is_set: true, scope: 'team' });
          expect(replaced.data!.data).toMatchObject({ value: 20, version: 2 });
          expect(own.data!.data.settings.heartbeat_interval_seconds).toEqual({ value: 20, source: 'team', team_id: team!.id, group_id: null });
          expect(operatorView).toEqual(own.data!.data);
          const again = await asAgent.GET('/api/v1/agent/config', { headers: { 'If-None-Match': etag! } });
          // Unset since: the ETag moved.
          expect(again.response.status).toBe(200);
          expect(again.data!.data.settings.heartbeat_interval_seconds?.source).toBe('default');
          const unchanged = await asAgent.GET('/api/v1/agent/config', { headers: { 'If-None-Match': again.response.headers.get('etag')! } });
          expect(unchanged.response.status).toBe(304);
        }
      });

      it('creates, reads, lists, patches and deletes a policy; a forbidden command is refused naming it', async () => {
        const created = await client.POST('/api/v1/config/policies', { body: { name: `Contract commands ${uniqueHost()}`.slice(0, 100), rules: { kind: 'allowed_commands', commands: ['systemctl restart *'] } } });
        expect(created.response.status).toBe(201);
        const policy = created.data!.data;
        const policyPath = { policy_id: policy.id };
        expect(created.response.headers.get('location')).toBe(`/api/v1/config/policies/${policy.id}`);
        expect(linkedPath('createPolicy', '201', 'GetPolicy', { body: created.data })).toBe(`/api/v1/config/policies/${policy.id}`);
        const listed = await unwrap(client.GET('/api/v1/config/policies', { params: { query: { kind: 'allowed_commands', sort: 'created_at:desc' } } }));
        const fetched = await unwrap(client.GET('/api/v1/config/policies/{policy_id}', { params: { path: policyPath } }));
        const patched = await unwrap(
          client.PATCH('/api/v1/config/policies/{policy_id}', { params: { path: policyPath }, body: { rules: { kind: 'allowed_commands', commands: ['systemctl restart *', 'uptime'] } } }),
        );
        await expectError(unwrap(client.POST('/api/v1/config/policies', { body: { name: 'x', rules: { kind: 'max_task_concurrency', max: 0 } }, ...prefer(422) })), 422, ['VAL_ERROR', 'VAL_MULTIPLE_ERRORS']);

        const created_agent = await unwrap(client.POST('/api/v1/agents', { body: { hostname: uniqueHost(), ip_address: '10.91.0.2', platform: 'linux' } }));
        await expectError(
          unwrap(client.POST('/api/v1/agents/{agent_id}/actions/command', { params: { path: { agent_id: created_agent.id } }, body: { command: 'rm', args: ['-rf', '/'], queue_if_offline: true }, ...prefer(422) })),
          422,
          options.stateful ? ['BIZ_POLICY_VIOLATION'] : ['VAL_MULTIPLE_ERRORS'],
        );
        const compliance = await unwrap(client.GET('/api/v1/agents/{agent_id}/compliance', { params: { path: { agent_id: created_agent.id } } }));
        expect(typeof compliance.compliant).toBe('boolean');
        await expectError(
          unwrap(client.GET('/api/v1/agents/{agent_id}/compliance', { params: { path: { agent_id: '0192f0c1-0000-7000-8000-000000000000' } }, ...prefer(404) })),
          404,
          ['RES_NOT_FOUND'],
        );
        const deleted = await client.DELETE('/api/v1/config/policies/{policy_id}', { params: { path: policyPath } });
        expect(deleted.response.status).toBe(204);
        await expectError(unwrap(client.GET('/api/v1/config/policies/{policy_id}', { params: { path: policyPath }, ...prefer(404) })), 404, ['RES_NOT_FOUND']);
        if (options.stateful) {
          expect(listed.map((p) => p.id)).toContain(policy.id);
          expect(fetched).toEqual(policy);
          expect(patched).toMatchObject({ version: 2, kind: 'allowed_commands' });
        }
      });
    });

    describe('sign-in through an identity provider', () => {
      // Neither target has a provider configured: the server answers 404 AUTH_PROVIDER_NOT_CONFIGURED, the
      // mock its 404 example. The mock's success examples are checked against the contract as well.
      const anonymous = () => clientWith(undefined);

      it('refuses a sign-in through a provider that is not configured, and an unknown one-time code', async () => {
        const provider = { provider: 'github' as const };
        await expectError(unwrap(anonymous().GET('/api/v1/auth/oauth/{provider}', { params: { path: provider }, ...prefer(404) })), 404, ['AUTH_PROVIDER_NOT_CONFIGURED']);
        await expectError(
          unwrap(anonymous().GET('/api/v1/auth/oauth/{provider}/callback', { params: { path: { provider: 'oidc' }, query: { state: 'hX3kq9VtL0mZ2xW8yR4sN6dF1gH5jK7c', code: 'e5a8f1c3' } }, ...prefer(404) })),
          404,
          ['AUTH_PROVIDER_NOT_CONFIGURED'],
        );
        await expectError(
          unwrap(anonymous().POST('/api/v1/auth/oauth/token', { body: { provider: 'github', code: 'osc_never-issued' }, headers: { Prefer: 'code=400, example=AUTH_OAUTH_CODE_INVALID' } })),
          400,
          ['AUTH_OAUTH_CODE_INVALID'],
        );
        await expectError(unwrap(anonymous().POST('/api/v1/auth/oauth/token', { body: { provider: 'gitlab' as never, code: 'x' }, ...prefer(422) })), 422, ['VAL_ERROR', 'VAL_MULTIPLE_ERRORS', 'VAL_INVALID_FORMAT']);
        if (!options.stateful) {
          const started = await unwrap(anonymous().GET('/api/v1/auth/oauth/{provider}', { params: { path: provider }, headers: { Accept: 'application/json' } }));
          expect(started.authorization_url).toMatch(/^https:\/\//);
          const signedIn = await unwrap(anonymous().GET('/api/v1/auth/oauth/{provider}/callback', { params: { path: provider, query: { state: 'hX3kq9VtL0mZ2xW8yR4sN6dF1gH5jK7c', code: 'e5a8f1c3' } } }));
          expect(signedIn.code).toBeTruthy();
          const tokens = await unwrap(anonymous().POST('/api/v1/auth/oauth/token', { body: { provider: 'github', code: signedIn.code } }));
          expect(tokens.token_type).toBe('Bearer');
        }
      });
    });

    describe('second factor (TOTP) and the authentication policy', () => {
      const totpCode = (base32: string, stepOffset: number) =>
        TOTP.generate({ secret: Secret.fromBase32(base32), algorithm: 'SHA1', digits: 6, period: 30, timestamp: Date.now() + stepOffset * 30_000 });

      it('enrols, confirms, regenerates recovery codes, completes a login with a recovery code, and turns TOTP off', async () => {
        const password = 'contract-totp-password-1';
        const user = await unwrap(client.POST('/api/v1/admin/users', { body: { email: `totp@${uniqueHost()}`, name: 'TOTP user', role: 'operator', password } }));
        const anonymous = clientWith(undefined);
        const tokens = await unwrap(anonymous.POST('/api/v1/auth/login', { body: { email: user.email, password } }));
        const asUser = clientWith(options.stateful ? tokens.access_token : target.token);
        const before = await unwrap(asUser.GET('/api/v1/auth/mfa/totp'));
        const enrolment = await unwrap(asUser.POST('/api/v1/auth/mfa/totp'));
        expect(enrolment.otpauth_uri.startsWith('otpauth://totp/')).toBe(true);
        const confirmed = await unwrap(asUser.POST('/api/v1/auth/mfa/totp/confirm', { body: { code: totpCode(enrolment.secret, 0) } }));
        expect(confirmed.recovery_codes).toHaveLength(10);
        // Each code works once: the next one is of the following step, which the server's window takes.
        const regenerated = await unwrap(asUser.POST('/api/v1/auth/mfa/recovery-codes', { body: { code: totpCode(enrolment.secret, 1) } }));
        expect(regenerated.recovery_codes).toHaveLength(10);

        const refused = await anonymous.POST('/api/v1/auth/login', { body: { email: user.email, password }, headers: { Prefer: 'code=401, example=AUTH_MFA_REQUIRED' } });
        expect(refused.response.status).toBe(401);
        expect(refused.error?.error.code).toBe('AUTH_MFA_REQUIRED');
        const mfa = (refused.error as { mfa?: { mfa_token: string; expires_in: number } } | undefined)?.mfa;
        expect(mfa?.mfa_token).toEqual(expect.any(String));
        await expectError(
          unwrap(anonymous.POST('/api/v1/auth/login/mfa', { body: { mfa_token: mfa!.mfa_token, code: '000000' }, ...prefer(401) })),
          401,
          ['AUTH_MFA_INVALID_CODE'],
        );
        const signedIn = await unwrap(anonymous.POST('/api/v1/auth/login/mfa', { body: { mfa_token: mfa!.mfa_token, recovery_code: regenerated.recovery_codes[0]! } }));
        expect(signedIn.token_type).toBe('Bearer');
        await expectError(unwrap(asUser.POST('/api/v1/auth/mfa/totp', { ...prefer(409) })), 409, ['RES_CONFLICT', 'RES_ALREADY_EXISTS']);

        const off = await asUser.DELETE('/api/v1/auth/mfa/totp', { body: { password } });
        expect(off.response.status).toBe(204);
        const after = await unwrap(asUser.GET('/api/v1/auth/mfa/totp'));
        if (options.stateful) {
          expect(before).toEqual({ enabled: false, pending: false, confirmed_at: null, recovery_codes_remaining: 0 });
          expect(confirmed.recovery_codes.some((c) => regenerated.recovery_codes.includes(c))).toBe(false);
          expect(after.enabled).toBe(false);
          expect((await unwrap(anonymous.POST('/api/v1/auth/login', { body: { email: user.email, password } }))).token_type).toBe('Bearer');
        }
      });

      it('reads and replaces the authentication policy with If-Match, and refuses to lock its caller out', async () => {
        const read = await client.GET('/api/v1/admin/auth-policy');
        expect(read.response.status).toBe(200);
        const etag = read.response.headers.get('etag')!;
        const policy = read.data!.data;
        const replaced = await unwrap(
          client.PUT('/api/v1/admin/auth-policy', { params: { header: { 'If-Match': etag } }, body: { require_totp_for_roles: options.stateful ? policy.require_totp_for_roles : ['admin'] } }),
        );
        // The administrator of the suite has no second factor: requiring one for its own role would lock it out.
        await expectError(unwrap(client.PUT('/api/v1/admin/auth-policy', { body: { require_totp_for_roles: ['admin'] }, ...prefer(409) })), 409, ['RES_CONFLICT', 'RES_ALREADY_EXISTS']);
        if (options.stateful) {
          expect(policy.require_totp_for_roles).toEqual([]);
          expect(replaced.require_totp_for_roles).toEqual([]);
        }
      });
    });

    describe('certificates', () => {
      it('issues an agent certificate for a CSR, lists, reads and revokes it, and serves the CA certificate and the CRL', async () => {
        const [team] = await unwrap(client.GET('/api/v1/teams'));
        const token = await unwrap(client.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: { team_id: team!.id } }, body: { name: 'contract-certificates' } }));
        const material = await createAgentKeyMaterial();
        const enrolled = await unwrap(
          clientWith(undefined).POST('/api/v1/agent/enroll', { body: { enrollment_token: token.secret, hostname: uniqueHost(), ip_address: '10.92.0.1', platform: 'linux', csr: material.csr } }),
        );
        const asAgent = createOpsdeckClient({ baseUrl: target.url, retries: false, apiKey: enrolled.agent_key });
        asAgent.use(checker.middleware);
        const renewed = await asAgent.POST('/api/v1/agent/certificate', { body: { csr: (await createAgentKeyMaterial()).csr } });
        expect(renewed.response.status).toBe(201);
        const issued = renewed.data!.data;
        expect(renewed.response.headers.get('location')).toBe(`/api/v1/config/certificates/${issued.certificate.id}`);
        expect(linkedPath('renewAgentCertificate', '201', 'GetCertificate', { body: renewed.data })).toBe(`/api/v1/config/certificates/${issued.certificate.id}`);
        await expectError(unwrap(asAgent.POST('/api/v1/agent/certificate', { body: { csr: 'not a CSR' }, ...prefer(422) })), 422, options.stateful ? ['VAL_INVALID_CSR'] : ['VAL_MULTIPLE_ERRORS']);

        const path = { certificate_id: issued.certificate.id };
        const listed = await unwrap(client.GET('/api/v1/config/certificates', { params: { query: { agent_id: enrolled.agent.id, status: 'active', sort: 'created_at:desc' } } }));
        const fetched = await unwrap(client.GET('/api/v1/config/certificates/{certificate_id}', { params: { path } }));
        const revoked = await client.DELETE('/api/v1/config/certificates/{certificate_id}', { params: { path, query: { reason: 'superseded' } } });
        expect(revoked.response.status).toBe(204);
        await expectError(
          unwrap(client.GET('/api/v1/config/certificates/{certificate_id}', { params: { path: { certificate_id: '0192f5a0-0000-7000-8000-000000000000' } }, ...prefer(404) })),
          404,
          ['RES_NOT_FOUND'],
        );

        const anonymous = clientWith(undefined);
        const caPem = await anonymous.GET('/api/v1/config/certificates/ca', { parseAs: 'text', headers: { Accept: 'application/x-pem-file' } });
        expect(caPem.response.status).toBe(200);
        expect(caPem.response.headers.get('content-type')).toMatch(/^application\/x-pem-file/);
        expect(caPem.data).toContain('-----BEGIN CERTIFICATE-----');
        const caDer = await anonymous.GET('/api/v1/config/certificates/ca', { parseAs: 'arrayBuffer', headers: { Accept: 'application/pkix-cert' } });
        expect(caDer.response.headers.get('content-type')).toMatch(/^application\/pkix-cert/);
        const crlPem = await anonymous.GET('/api/v1/config/certificates/revoked', { parseAs: 'text', headers: { Accept: 'application/x-pem-file' } });
        expect(crlPem.response.status).toBe(200);
        expect(crlPem.data).toContain('-----BEGIN X509 CRL-----');
        const crlDer = await anonymous.GET('/api/v1/config/certificates/revoked', { parseAs: 'arrayBuffer', headers: { Accept: 'application/pkix-crl' } });
        expect(crlDer.response.headers.get('content-type')).toMatch(/^application\/pkix-crl/);
        if (options.stateful) {
          expect(enrolled.certificate).toMatchObject({ agent_id: enrolled.agent.id, status: 'active', subject_alt_uri: `urn:opsdeck:agent:${enrolled.agent.id}` });
          expect(enrolled.ca_chain).toEqual([caPem.data]);
          expect(issued.ca_chain).toEqual([caPem.data]);
          expect(listed.map((c) => c.id)).toEqual([issued.certificate.id, enrolled.certificate!.id]);
          expect(fetched).toEqual(issued.certificate);
          const after = await unwrap(client.GET('/api/v1/config/certificates/{certificate_id}', { params: { path } }));
          expect(after).toMatchObject({ status: 'revoked', revocation_reason: 'superseded' });
        }
      });
    });

    it('checked every operation of the spec', () => {
      const exercised = new Set(checker.checked.map((c) => c.split(' ')[0]));
      expect([...operationsById.keys()].filter((id) => !exercised.has(id))).toEqual([]);
    });
  });
}
