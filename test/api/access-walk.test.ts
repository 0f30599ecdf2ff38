// Walks every operation of the bundled spec. Permissions: each operation is either deliberately
// public or requires exactly one permission, and the server enforces exactly that (401 without
// credentials, 403 without the permission). Tenancy: every operation that takes an id answers 404
// for another team's resource, exactly as for one that does not exist, and changes nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentKeyMaterial } from '@opsdeck/sdk/certificates';
import { operationTable } from '../../server/http/operation-table.ts';
import { operationsById } from '../../server/contract.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createTeam, createUser, type TestUser } from '../support/identity.ts';
import { openStream } from '../support/sse.ts';
import { beforeSunset } from '../support/sunset.ts';

/**
 * The operations meant to need no credentials; anything else public is a mistake. The live WebSocket's upgrade
 * (`openEventSocket`) is one: its credential comes in its first message (test/api/events-websocket.test.ts).
 */
const DELIBERATELY_PUBLIC = ['login', 'refreshToken', 'logout', 'getLiveness', 'getReadiness', 'getSystemVersion', 'enrollAgent', 'getIndex', 'openEventSocket',
  // Sign-in through an identity provider, and its second factor: they are how a caller gets credentials.
  'startOAuthSignIn', 'completeOAuthSignIn', 'exchangeOAuthCode', 'loginMfa',
  // What an agent needs to trust the CA and check revocations, before it has a certificate.
  'getCaCertificate', 'getCertificateRevocationList'];
/** Operations that need no caller but may be closed by a configured token instead (`{}` beside the scheme): the metrics. */
const STATIC_TOKEN_ONLY: Record<string, string> = { getMetrics: 'metricsToken' };

let server: TestServer;
let outsider: TestUser;

beforeAll(async () => {
  // No sweeps during the walk: an agent created `online` without heartbeats would turn offline mid-walk
  // and look "changed" to the walk's last check.
  // Private webhook targets allowed: the walk's webhooks point at a closed local port, so nothing leaves the machine.
  server = await startTestServer({ SWEEP_INTERVAL_MS: '3600000', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
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
      if (STATIC_TOKEN_ONLY[operationId]) {
        expect(security, operationId).toEqual([{}, { [STATIC_TOKEN_ONLY[operationId]!]: [] }]);
        expect(operationTable.get(operationId as never)?.permission, operationId).toBeNull();
        continue;
      }
      const permission = operationTable.get(operationId as never)?.permission;
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
      const permission = operationTable.get(operationId as never)?.permission;
      if (!permission) continue;
      const path = pathOf(info.path, {});
      const method = info.method.toUpperCase();
      const walk = async () => {
        const anonymous = await http(server.url, method, path);
        expect(anonymous.status, `${operationId} without credentials`).toBe(401);
        expect(anonymous.body.error.code).toBe('AUTH_REQUIRED');
        const key = permission === 'profile:read' ? onlyKeys : onlyProfile;
        const denied = await http(server.url, method, path, { headers: { 'x-api-key': key } });
        expect(denied.status, `${operationId} without ${permission}`).toBe(403);
        expect(denied.body.error.code).toBe('PERM_DENIED');
        expect(denied.body.error.message).toContain(permission);
      };
      // A deprecated operation is walked before its sunset (after it, it answers 410 to everyone, as versions.test.ts checks).
      if ((info.operation as { 'x-sunset'?: unknown })['x-sunset'] !== undefined) await beforeSunset(operationId, walk);
      else await walk();
      walked += 1;
    }
    expect(walked).toBe(operationsById.size - DELIBERATELY_PUBLIC.length - Object.keys(STATIC_TOKEN_ONLY).length);
  });
});

describe('tenant isolation walk', () => {
  it("every operation that takes an id answers 404 for another team's resource, and changes nothing", async () => {
    const agent = (await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'online' }) })).body.data;
    const key = (await server.call('POST', '/api/v1/api-keys', { json: { name: 'mine', scopes: ['agents:read'] } })).body.data;
    const member = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'member');
    const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'insiders' } })).body.data;
    // The task is an enrolled agent's, which uploads a file for it (an artifact of the insiders').
    const worker = (await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token.secret, ...newAgent() } })).body.data;
    const task = (await server.call('POST', `/api/v1/agents/${worker.agent.id}/actions/reboot`, { json: {} })).body.data;
    const uploaded = await http(server.url, 'POST', `/api/v1/agent/tasks/${task.task_id}/artifacts?name=insiders.log`, { headers: { 'x-api-key': worker.agent_key, 'content-type': 'text/plain' }, body: 'insiders only\n' });
    expect(uploaded.status).toBe(201);
    const artifact = uploaded.body.data;
    const group = (await server.call('POST', '/api/v1/agent-groups', { json: { name: 'Insiders' } })).body.data;
    expect((await server.call('POST', `/api/v1/agent-groups/${group.id}/members`, { json: { agent_ids: [agent.id] } })).status).toBe(200);
    const dashboard = (await server.call('POST', '/api/v1/metrics/dashboards', { json: { name: 'Insiders' } })).body.data;
    // A deployment, a pipeline and a run of the insiders' team.
    const deployment = (await server.call('POST', '/api/v1/deployments', { json: { service: 'walk', version: 'v1', environment: 'production' } })).body.data;
    const pipeline = (await server.call('POST', '/api/v1/pipelines', { json: { name: 'walk', repository: 'github.com/opsdeck/walk' } })).body.data;
    const pipelineRun = (await server.call('POST', `/api/v1/pipelines/${pipeline.id}/runs`, { json: { commit_sha: 'abcdef1' } })).body.data;
    const alert = (await server.call('POST', '/api/v1/alerts', { json: { agent_id: agent.id, title: 'Insiders only', severity: 'critical' } })).body.data;
    const webhook = (await server.call('POST', '/api/v1/webhooks', { json: { url: 'http://127.0.0.1:9/walk', events: ['alert.triggered'] } })).body.data;
    const webhookDelivery = (await server.call('POST', `/api/v1/webhooks/${webhook.id}/ping`)).body.data;
    const schedule = (await server.call('POST', '/api/v1/tasks/schedules', { json: { name: 'Insiders', cron: '0 3 * * SUN', timezone: 'UTC', run: { action: { type: 'reboot' }, target: { agent_ids: [agent.id] } } } })).body.data;
    const template = (await server.call('POST', '/api/v1/tasks/templates', { json: { name: 'Insiders only', action: 'reboot' } })).body.data;
    const rule = (await server.call('POST', '/api/v1/metrics/alerts/rules', { json: { name: 'Insiders only', metric: 'cpu_usage', condition: { aggregation: 'avg', window_seconds: 60, operator: '>', threshold: 90 }, severity: 'info' } })).body.data;
    const channel = (await server.call('POST', '/api/v1/metrics/alerts/notifications', { json: { name: 'Insiders only', kind: 'webhook', webhook_id: webhook.id } })).body.data;
    const silence = (await server.call('POST', '/api/v1/metrics/alerts/silences', { json: { ends_at: new Date(Date.now() + 3_600_000).toISOString(), matchers: { service: 'insiders' }, comment: 'Insiders only' } })).body.data;
    const policy = (await server.call('POST', '/api/v1/config/policies', { json: { name: 'Insiders only', rules: { kind: 'allowed_commands', commands: ['uptime'] } } })).body.data;
    const certified = await http(server.url, 'POST', '/api/v1/agent/certificate', { headers: { 'x-api-key': worker.agent_key }, json: { csr: (await createAgentKeyMaterial()).csr } });
    expect(certified.status).toBe(201);
    const certificate = certified.body.data.certificate;
    expect((await server.call('PUT', `/api/v1/config/settings/heartbeat_interval_seconds?scope=team&team_id=${server.teamId}`, { json: { value: 20 } })).status).toBe(201);
    const ids = { policy_id: policy.id, certificate_id: certificate.id, key: 'heartbeat_interval_seconds', rule_id: rule.id, channel_id: channel.id, silence_id: silence.id, schedule_id: schedule.id, webhook_id: webhook.id, delivery_id: webhookDelivery.id, alert_id: alert.id, deployment_id: deployment.id, pipeline_id: pipeline.id, run_id: pipelineRun.id, agent_id: agent.id, team_id: server.teamId, api_key_id: key.id, user_id: member.id, task_id: task.task_id, artifact_id: artifact.id, token_id: token.id, group_id: group.id, template_id: template.id, dashboard_id: dashboard.id };
    // An agent of the outsiders' team, to try the agent protocol on the insiders' task.
    const outsiderTeam = (await http(server.url, 'GET', '/api/v1/teams', { headers: bearer(outsider.token) })).body.data[0].id;
    const outsiderToken = (await http(server.url, 'POST', `/api/v1/teams/${outsiderTeam}/enrollment-tokens`, { headers: bearer(outsider.token), json: { name: 'outsiders' } })).body.data.secret;
    const outsiderAgent = (await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: outsiderToken, ...newAgent() } })).body.data.agent_key;
    const replacement = { ...newAgent(), os_version: null, agent_version: null, status: 'online', tags: [] };

    // How the outsider tries each operation on the insiders' resources.
    // `sameIds`: the resource is named by the query (a setting's scope), so the missing case keeps the path and asks
    // for a team that does not exist.
    const insidersScope = `?scope=team&team_id=${server.teamId}`;
    const noSuchScope = `?scope=team&team_id=${randomUUID()}`;
    const attempts: Record<string, { body?: unknown; asAgent?: boolean; query?: string; sameIds?: { query: string } }> = {
      getSetting: { query: insidersScope, sameIds: { query: noSuchScope } },
      replaceSetting: { body: { value: 5 }, query: insidersScope, sameIds: { query: noSuchScope } },
      deleteSetting: { query: insidersScope, sameIds: { query: noSuchScope } },
      getPolicy: {},
      getAgentEffectiveConfig: {},
      getAgentCompliance: {},
      getCertificate: {},
      revokeCertificate: {},
      rebootAgent: { body: {} },
      shutdownAgent: { body: {} },
      updateAgentSoftware: { body: { version: '9.9.9' } },
      runAgentCommand: { body: { command: 'id' } },
      createAgentTask: { body: { action: { type: 'reboot' } } },
      listAgentTasks: {},
      getTask: {},
      listTaskLogs: {},
      listTaskArtifacts: {},
      downloadTaskArtifact: {},
      uploadTaskArtifact: { asAgent: true, query: '?name=takeover.log' },
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
      getAlert: {},
      acknowledgeAlert: {},
      resolveAlert: {},
      listAgentPackages: {},
      listAgentServices: {},
      listAgentVulnerabilities: {},
      getAgentHardware: {},
      getAgentMetrics: { query: '?name=cpu_usage&start_date=2026-11-21T10:00:00Z&end_date=2026-11-21T11:00:00Z' },
      getDeployment: {},
      updateDeployment: { body: { status: 'running' } },
      rollbackDeployment: {},
      getPipeline: {},
      updatePipeline: { body: { status: 'paused' } },
      deletePipeline: {},
      listPipelineRuns: {},
      createPipelineRun: { body: { commit_sha: 'abcdef1' } },
      getPipelineRun: {},
      updatePipelineRun: { body: { status: 'running' } },
      getAgentGroup: {},
      updateAgentGroup: { body: { name: 'Taken over' } },
      deleteAgentGroup: {},
      listAgentGroupMembers: {},
      addAgentGroupMembers: { body: { agent_ids: [agent.id] } },
      removeAgentGroupMember: {},
      getDashboard: {},
      getDashboardData: {},
      updateDashboard: { body: { name: 'Taken over' } },
      deleteDashboard: {},
      getWebhook: {},
      updateWebhook: { body: { description: 'Taken over' } },
      deleteWebhook: {},
      pingWebhook: {},
      listWebhookDeliveries: {},
      getWebhookDelivery: {},
      redeliverWebhookDelivery: {},
      getTaskSchedule: {},
      updateTaskSchedule: { body: { enabled: false } },
      deleteTaskSchedule: {},
      listTaskScheduleExecutions: {},
      getTaskTemplate: {},
      updateTaskTemplate: { body: { description: 'Taken over' } },
      deleteTaskTemplate: {},
      listTaskTemplateVersions: {},
      getAlertRule: {},
      updateAlertRule: { body: { enabled: false } },
      deleteAlertRule: {},
      getNotificationChannel: {},
      updateNotificationChannel: { body: { name: 'Taken over' } },
      deleteNotificationChannel: {},
      testNotificationChannel: {},
      getAlertSilence: {},
      updateAlertSilence: { body: { comment: 'Taken over' } },
      deleteAlertSilence: {},
    };
    // Users are not owned by a team: only administrators (`admin:users`) reach them at all.
    const notTeamOwned = ['getUser', 'updateUser', 'deleteUser'];
    // Security policies are written by administrators only (`config:policies`): an operator of another team is refused first.
    const adminOnly = ['updatePolicy', 'deletePolicy'];
    // Sign-in through an identity provider: `{provider}` names no resource of anyone's.
    const notResources = ['startOAuthSignIn', 'completeOAuthSignIn'];

    const withIds = [...operationsById.values()].filter((info) => info.path.includes('{') && !notResources.includes(info.operationId));
    expect(withIds.map((o) => o.operationId).sort()).toEqual([...Object.keys(attempts), ...notTeamOwned, ...adminOnly].sort());

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
      const theirs = await http(server.url, method, pathOf(info.path, ids) + (attempt.query ?? ''), { headers, json });
      expect(theirs.status, `${info.operationId} on another team's resource`).toBe(404);
      expect(theirs.body.error.code).toBe('RES_NOT_FOUND');
      // Indistinguishable from an id that does not exist.
      const missing = await http(server.url, method, attempt.sameIds ? pathOf(info.path, ids) + attempt.sameIds.query : pathOf(info.path, {}) + (attempt.query ?? ''), { headers, json });
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
    expect((await http(server.url, 'GET', '/api/v2/agents', { headers: { 'x-api-key': key.secret } })).status).toBe(200);
    const unchangedTask = (await server.call('GET', `/api/v1/tasks/${task.task_id}`)).body.data;
    expect(unchangedTask).toMatchObject({ status: 'pending', progress: 0, attempt: 1 });
    expect((await server.call('GET', `/api/v1/tasks/${task.task_id}/artifacts`)).body.data).toEqual([artifact]);
    expect((await server.call('GET', `/api/v1/teams/${server.teamId}/enrollment-tokens`)).body.data.map((t: { id: string }) => t.id)).toEqual([token.id]);
    expect((await server.call('GET', `/api/v1/alerts/${alert.id}`)).body.data).toEqual(alert);
    expect((await server.call('GET', `/api/v1/deployments/${deployment.id}`)).body.data).toEqual(deployment);
    expect((await server.call('GET', `/api/v1/pipelines/${pipeline.id}`)).body.data).toMatchObject({ status: 'active', last_run_status: 'queued' });
    expect((await server.call('GET', `/api/v1/pipelines/${pipeline.id}/runs`)).body.data).toEqual([pipelineRun]);
    expect((await server.call('GET', `/api/v1/agent-groups/${group.id}`)).body.data).toMatchObject({ name: 'Insiders', agent_count: 1 });
    expect((await server.call('GET', `/api/v1/tasks/schedules/${schedule.id}`)).body.data).toEqual(schedule);
    expect((await server.call('GET', `/api/v1/metrics/dashboards/${dashboard.id}`)).body.data).toEqual(dashboard);
    expect((await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).body.data).toMatchObject({ url: webhook.url, description: null, active: true, secret_hint: webhook.secret_hint });
    expect((await server.call('GET', `/api/v1/tasks/templates/${template.id}`)).body.data).toEqual(template);
    expect((await server.call('GET', `/api/v1/webhooks/${webhook.id}/deliveries`)).body.data.map((d: { id: string }) => d.id)).toEqual([webhookDelivery.id]);
    expect((await server.call('GET', `/api/v1/metrics/alerts/rules/${rule.id}`)).body.data).toEqual(rule);
    expect((await server.call('GET', `/api/v1/metrics/alerts/notifications/${channel.id}`)).body.data).toEqual(channel);
    expect((await server.call('GET', `/api/v1/metrics/alerts/silences/${silence.id}`)).body.data).toEqual(silence);
    expect((await server.call('GET', `/api/v1/config/policies/${policy.id}`)).body.data).toEqual(policy);
    expect((await server.call('GET', `/api/v1/config/certificates/${certificate.id}`)).body.data).toMatchObject({ id: certificate.id, status: 'active' });
    expect((await server.call('GET', `/api/v1/config/settings/heartbeat_interval_seconds${insidersScope}`)).body.data).toMatchObject({ value: 20 });
    // It walks every operation that takes an id, twice; on a busy 2-core machine that outlasts the default 30 s.
  }, 120_000);

  it("lists never show another team's resources, and a team_id filter of another team finds nothing", async () => {
    await server.call('POST', '/api/v1/agents', { json: newAgent() });
    const theirs = await http(server.url, 'GET', '/api/v2/agents?limit=100', { headers: bearer(outsider.token) });
    expect(theirs.body.data.filter((a: { team_id: string }) => a.team_id === server.teamId)).toEqual([]);
    const tasks = await http(server.url, 'GET', '/api/v1/tasks?limit=100', { headers: bearer(outsider.token) });
    expect(tasks.body.data.filter((t: { team_id: string }) => t.team_id === server.teamId)).toEqual([]);
    await server.call('POST', '/api/v1/deployments', { json: { service: 'walk-list', version: 'v1', environment: 'staging' } });
    await server.call('POST', '/api/v1/pipelines', { json: { name: 'walk-list', repository: 'github.com/opsdeck/walk' } });
    await server.call('POST', '/api/v1/webhooks', { json: { url: 'http://127.0.0.1:9/walk-list', events: ['task.failed'] } });
    await server.call('POST', '/api/v1/metrics/dashboards', { json: { name: 'walk-list' } });
    for (const list of ['/api/v1/deployments', '/api/v1/pipelines', '/api/v1/webhooks', '/api/v1/metrics/dashboards']) {
      const mine = await server.call('GET', `${list}?team_id=${server.teamId}`);
      expect(mine.body.data.length, list).toBeGreaterThan(0);
      const seen = await http(server.url, 'GET', `${list}?limit=100`, { headers: bearer(outsider.token) });
      expect(seen.body.data.filter((item: { team_id: string }) => item.team_id === server.teamId), list).toEqual([]);
      expect((await http(server.url, 'GET', `${list}?team_id=${server.teamId}`, { headers: bearer(outsider.token) })).body.data, list).toEqual([]);
    }
    const bulk = await http(server.url, 'PATCH', '/api/v1/pipelines/bulk', { headers: bearer(outsider.token), json: { filter: { team_id: server.teamId }, set: { status: 'disabled' } } });
    expect(bulk.body.data).toEqual({ matched: 0, updated: 0 });
    const groups = await http(server.url, 'GET', '/api/v1/agent-groups?limit=100', { headers: bearer(outsider.token) });
    expect(groups.body.data.filter((g: { team_id: string }) => g.team_id === server.teamId)).toEqual([]);
    await server.call('POST', '/api/v1/alerts', { json: { title: 'Insiders only', severity: 'info' } });
    const alerts = await http(server.url, 'GET', '/api/v1/alerts?limit=100', { headers: bearer(outsider.token) });
    expect(alerts.body.data.filter((a: { team_id: string }) => a.team_id === server.teamId)).toEqual([]);
    expect((await http(server.url, 'GET', `/api/v1/alerts?team_id=${server.teamId}`, { headers: bearer(outsider.token) })).body.data).toEqual([]);
    const raised = await http(server.url, 'POST', '/api/v1/alerts/bulk', { headers: bearer(outsider.token), json: { alerts: [{ team_id: server.teamId, title: 'x', severity: 'info' }] } });
    expect(raised.body.data).toMatchObject({ created: 0, failed: 1, results: [{ error: { code: 'RES_NOT_FOUND' } }] });
    // v2 neither shows nor counts them: its summary covers the outsider's own agents only.
    const v2 = await http(server.url, 'GET', '/api/v2/agents?limit=100', { headers: bearer(outsider.token) });
    expect(v2.body.data.filter((a: { team_id: string }) => a.team_id === server.teamId)).toEqual([]);
    expect(v2.body.summary.total).toBe(v2.body.data.length);
    const v2Filtered = await http(server.url, 'GET', `/api/v2/agents?team_id=${server.teamId}`, { headers: bearer(outsider.token) });
    expect(v2Filtered.body).toMatchObject({ data: [], summary: { total: 0, groups: 0 } });
    const teams = await http(server.url, 'GET', '/api/v1/teams', { headers: bearer(outsider.token) });
    expect(teams.body.data.map((t: { name: string }) => t.name)).toEqual(['Outsiders']);
    const created = await http(server.url, 'POST', '/api/v1/agents', { headers: bearer(outsider.token), json: newAgent({ team_id: server.teamId }) });
    expect(created.status).toBe(404);
  });

  it("fleet-wide inventory views never show another team's packages", async () => {
    const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'inventory walk' } })).body.data.secret;
    const host = (await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent() } })).body.data.agent_key;
    const report = { packages: [{ name: 'walk-secret-pkg', version: '1.0', available_version: '1.1' }], services: [], hardware: { cpu_model: 'x', cpu_cores: 1, memory_bytes: 1, disk_bytes: 1 } };
    expect((await http(server.url, 'PUT', '/api/v1/agent/inventory', { headers: { 'x-api-key': host }, json: report })).status).toBe(200);
    expect((await server.call('GET', '/api/v1/inventory/packages/search?name=walk-secret-pkg')).body.data).toHaveLength(1);
    for (const path of ['/api/v1/inventory/packages/search?name=walk-secret-pkg', '/api/v1/inventory/packages/updates?name=walk-secret-pkg', `/api/v1/inventory/packages/search?name=walk-secret-pkg&team_id=${server.teamId}`]) {
      const seen = await http(server.url, 'GET', path, { headers: bearer(outsider.token) });
      expect(seen.status, path).toBe(200);
      expect(seen.body.data, path).toEqual([]);
    }
  });
});

describe('live stream walk', () => {
  it("the live stream never carries another team's events, replayed or live, nor with its team_id", async () => {
    const since = '0'; // replay from the first stream position on
    const own = await openStream(server.url, `/api/v1/events?last_event_id=${since}`, bearer(outsider.token));
    const filtered = await openStream(server.url, `/api/v1/events?team_id=${server.teamId}&last_event_id=${since}`, bearer(outsider.token));
    try {
      expect([own.status, filtered.status]).toEqual([200, 200]);
      const insiders = (await server.call('POST', '/api/v1/alerts', { json: { title: 'Insiders, live', severity: 'critical' } })).body.data;
      const outsiders = (await http(server.url, 'POST', '/api/v1/alerts', { headers: bearer(outsider.token), json: { title: 'Outsiders, live', severity: 'info' } })).body.data;
      // Dispatched after the insiders' alert, and after every replayed event: once it is here, the rest would be too.
      await own.waitForEvent((m) => (m.payload.data as { id: string }).id === outsiders.id, 10_000);
      expect(own.messages.every((m) => m.payload.team_id !== server.teamId)).toBe(true);
      expect(own.messages.some((m) => (m.payload.data as { id: string }).id === insiders.id)).toBe(false);
      expect(filtered.messages).toEqual([]);
    } finally {
      own.close();
      filtered.close();
    }
  });
});
