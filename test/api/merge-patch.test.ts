// Every PATCH the contract describes as a JSON merge patch (RFC 7396) takes it as `application/merge-patch+json`,
// the media type of RFC 7396, as well as `application/json`: declared so in the spec, and accepted by the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationsById, resolveRef } from '../../server/contract.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { newAgent } from '../support/http.ts';
import { createUser } from '../support/identity.ts';

const MERGE_PATCH = 'application/merge-patch+json';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
});
afterAll(async () => {
  await server?.close();
});

/** The PATCH operations whose description or request body says they take a JSON merge patch. */
function mergePatchOperations() {
  return [...operationsById.values()].filter((info) => {
    if (info.method !== 'patch') return false;
    const body = resolveRef(info.operation.requestBody) as { description?: string } | undefined;
    return /merge patch/i.test(`${info.operation.description ?? ''} ${body?.description ?? ''}`);
  });
}

describe('JSON merge patch', () => {
  it('every PATCH described as a merge patch declares application/merge-patch+json, with the schema of application/json', () => {
    const operations = mergePatchOperations();
    expect(operations.map((o) => o.operationId).sort()).toEqual(
      ['updateAgent', 'updateAgentGroup', 'updateAlertRule', 'updateAlertSilence', 'updateDashboard', 'updateDeployment', 'updateNotificationChannel', 'updatePipeline', 'updatePipelineRun', 'updatePolicy', 'updateTaskSchedule', 'updateTaskTemplate', 'updateTeam', 'updateUser', 'updateWebhook'].sort(),
    );
    for (const info of operations) {
      const content = (resolveRef(info.operation.requestBody) as { content: Record<string, { schema: unknown }> }).content;
      expect(Object.keys(content).sort(), info.operationId).toEqual(['application/json', MERGE_PATCH]);
      expect(content[MERGE_PATCH]!.schema, info.operationId).toEqual(content['application/json']!.schema);
    }
  });

  it('the server takes application/merge-patch+json (with or without a charset) on every one of them', async () => {
    const member = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'patched');
    const agent = (await server.call('POST', '/api/v1/agents', { json: newAgent() })).body.data;
    const group = (await server.call('POST', '/api/v1/agent-groups', { json: { name: 'Patched' } })).body.data;
    const dashboard = (await server.call('POST', '/api/v1/metrics/dashboards', { json: { name: 'Patched' } })).body.data;
    const deployment = (await server.call('POST', '/api/v1/deployments', { json: { service: 'patched', version: 'v1', environment: 'staging' } })).body.data;
    const pipeline = (await server.call('POST', '/api/v1/pipelines', { json: { name: 'patched', repository: 'github.com/opsdeck/patched' } })).body.data;
    const run = (await server.call('POST', `/api/v1/pipelines/${pipeline.id}/runs`, { json: { commit_sha: 'abcdef1' } })).body.data;
    const template = (await server.call('POST', '/api/v1/tasks/templates', { json: { name: 'Patched', action: 'reboot' } })).body.data;
    const webhook = (await server.call('POST', '/api/v1/webhooks', { json: { url: 'http://127.0.0.1:9/patched', events: ['alert.triggered'] } })).body.data;
    const schedule = (await server.call('POST', '/api/v1/tasks/schedules', { json: { name: 'Patched', cron: '0 3 * * SUN', timezone: 'UTC', run: { action: { type: 'reboot' }, target: { agent_ids: [agent.id] } } } })).body.data;
    const rule = (await server.call('POST', '/api/v1/metrics/alerts/rules', { json: { name: 'patched', metric: 'cpu_usage', condition: { aggregation: 'avg', window_seconds: 60, operator: '>', threshold: 90 }, severity: 'info' } })).body.data;
    const channel = (await server.call('POST', '/api/v1/metrics/alerts/notifications', { json: { name: 'patched', kind: 'webhook', webhook_id: webhook.id } })).body.data;
    const silence = (await server.call('POST', '/api/v1/metrics/alerts/silences', { json: { ends_at: new Date(Date.now() + 60_000).toISOString(), matchers: { service: 'patched' }, comment: 'patched' } })).body.data;
    const policy = (await server.call('POST', '/api/v1/config/policies', { json: { name: 'Patched', rules: { kind: 'max_task_concurrency', max: 2 } } })).body.data;

    // Each patch twice: as merge-patch+json, then with a charset parameter; the answer shows the change.
    const patches: Record<string, [string, Record<string, unknown>]> = {
      updateAgent: [`/api/v1/agents/${agent.id}`, { status: 'maintenance' }],
      updateAgentGroup: [`/api/v1/agent-groups/${group.id}`, { description: 'Merge patched' }],
      updateDashboard: [`/api/v1/metrics/dashboards/${dashboard.id}`, { description: 'Merge patched' }],
      updateDeployment: [`/api/v1/deployments/${deployment.id}`, { status: 'running' }],
      updatePipeline: [`/api/v1/pipelines/${pipeline.id}`, { status: 'paused' }],
      updatePipelineRun: [`/api/v1/pipelines/${pipeline.id}/runs/${run.id}`, { status: 'running' }],
      updateTaskTemplate: [`/api/v1/tasks/templates/${template.id}`, { description: 'Merge patched' }],
      updateTeam: [`/api/v1/teams/${server.teamId}`, { description: 'Merge patched' }],
      updateUser: [`/api/v1/admin/users/${member.id}`, { name: 'Merge Patched' }],
      updateWebhook: [`/api/v1/webhooks/${webhook.id}`, { description: 'Merge patched' }],
      updateTaskSchedule: [`/api/v1/tasks/schedules/${schedule.id}`, { description: 'Merge patched' }],
      updateAlertRule: [`/api/v1/metrics/alerts/rules/${rule.id}`, { severity: 'warning' }],
      updateNotificationChannel: [`/api/v1/metrics/alerts/notifications/${channel.id}`, { name: 'Merge patched' }],
      updateAlertSilence: [`/api/v1/metrics/alerts/silences/${silence.id}`, { comment: 'Merge patched' }],
      updatePolicy: [`/api/v1/config/policies/${policy.id}`, { description: 'Merge patched' }],
    };
    expect(Object.keys(patches).sort()).toEqual(mergePatchOperations().map((o) => o.operationId).sort());
    for (const [operationId, [path, patch]] of Object.entries(patches)) {
      for (const contentType of [MERGE_PATCH, `${MERGE_PATCH}; charset=utf-8`]) {
        const res = await server.call('PATCH', path, { body: JSON.stringify(patch), headers: { 'content-type': contentType } });
        expect(res.status, `${operationId} as ${contentType}: ${res.text}`).toBe(200);
        expect(res.body.data, operationId).toMatchObject(patch);
      }
    }
  });

  it('a merge patch is validated like any body: a wrong type or an unknown field is 422, malformed JSON 400', async () => {
    const path = `/api/v1/teams/${server.teamId}`;
    const headers = { 'content-type': MERGE_PATCH };
    const wrongType = await server.call('PATCH', path, { body: JSON.stringify({ name: 42 }), headers });
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.error.details[0].field).toBe('name');
    const unknown = await server.call('PATCH', path, { body: JSON.stringify({ colour: 'red' }), headers });
    expect(unknown.status).toBe(422);
    const malformed = await server.call('PATCH', path, { body: '{"name":', headers });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('VAL_MALFORMED_REQUEST');
  });
});
