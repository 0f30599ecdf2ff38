// The contract says what the server does, for parameters every list or resource shares:
// - `search` takes the same characters on every list: `?search=ada+king` (what HTML forms and URLSearchParams
//   send) and other reserved characters are accepted everywhere and `+` is a space;
// - `sort` refuses a repeated field in the spec's pattern and on the server alike, on every list;
// - `If-Modified-Since` is declared exactly on the GETs that answer `Last-Modified`, and each of them answers 304
//   to it.
import { request } from 'node:http';
import type { OpenAPIV3_1 } from 'openapi-types';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentKeyMaterial } from '@opsdeck/sdk/certificates';
import { operationsById, resolveRef, type OperationInfo } from '../../server/contract.ts';
import { newAgent } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;

/**
 * A GET as curl, a proxy or a CDN sends it. Not fetch(): given a conditional header, fetch adds
 * `Cache-Control: no-cache` (Fetch standard, "HTTP-network-or-cache fetch"), which tells a server not to answer 304.
 */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.adminToken}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

const parametersOf = (info: OperationInfo) => (info.operation.parameters ?? []).map((p) => resolveRef<OpenAPIV3_1.ParameterObject>(p as never));
const parameter = (info: OperationInfo, name: string) => parametersOf(info).find((p) => p.name === name);
const withParameter = (name: string) => [...operationsById.values()].filter((info) => parameter(info, name) !== undefined);
const MISSING = '0192f0c1-0000-7000-8000-000000000000';
/** A path with every path parameter filled (with an id that does not exist unless given). */
const pathOf = (info: OperationInfo, ids: Record<string, string> = {}) => info.path.replace(/\{([^}]+)\}/g, (_, name: string) => ids[name] ?? MISSING);

beforeAll(async () => {
  server = await startTestServer({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
});
afterAll(async () => {
  await server?.close();
});

describe('search', () => {
  const lists = withParameter('search');

  it('is declared alike on every list: reserved characters allowed, the same bounds', () => {
    expect(lists.map((info) => info.operationId)).toEqual(expect.arrayContaining(['listTeams', 'listUsers', 'listAgentGroups', 'listAgentsV2']));
    for (const info of lists) {
      const search = parameter(info, 'search')!;
      expect(search.allowReserved, info.operationId).toBe(true);
      expect(search.schema, info.operationId).toMatchObject({ type: 'string', minLength: 1, maxLength: 100 });
    }
  });

  it('accepts `ada+king` and reserved characters on every list, and reads `+` as a space', async () => {
    const team = (await server.call('POST', '/api/v1/teams', { json: { name: 'Ada King' } })).body.data;
    await server.call('POST', '/api/v1/admin/users', { json: { email: 'ada.king@test.example.com', name: 'Ada King', role: 'viewer' } });
    await server.call('POST', '/api/v1/agent-groups', { json: { name: 'ada king hosts', team_id: server.teamId } });
    await server.call('POST', '/api/v1/pipelines', { json: { name: 'ada king deploys', repository: 'github.com/opsdeck/ada', team_id: server.teamId } });
    for (const info of lists) {
      const path = pathOf(info);
      for (const search of ['ada+king', 'a:b/c?d@e', "it's(1)*,;=$!"]) {
        const res = await server.call('GET', `${path}?search=${search}`);
        // Nested lists of an agent that does not exist answer 404 after the parameters were accepted.
        expect([200, 404], `${info.operationId} ?search=${search}: ${JSON.stringify(res.body)}`).toContain(res.status);
      }
    }
    const found = async (path: string) => (await server.call('GET', `${path}?search=ada+king`)).body.data.map((item: { name: string }) => item.name);
    expect(await found('/api/v1/teams')).toEqual(['Ada King']);
    expect(await found('/api/v1/admin/users')).toEqual(['Ada King']);
    expect(await found('/api/v1/agent-groups')).toEqual(['ada king hosts']);
    expect(await found('/api/v1/pipelines')).toEqual(['ada king deploys']);
    expect(team.name).toBe('Ada King');
  });
});

describe('sort', () => {
  const ajv = new Ajv2020({ strict: false });
  /** The lists whose sort takes several fields, with the fields its pattern names. */
  const multi = withParameter('sort').flatMap((info) => {
    const schema = parameter(info, 'sort')!.schema as { pattern: string };
    const fields = /\)\(([a-z_|]+)\):\(asc\|desc\)\(,/.exec(schema.pattern)?.[1]?.split('|');
    return fields && fields.length > 1 ? [{ info, schema, fields }] : [];
  });

  it('finds every list that sorts by several fields', () => {
    expect(multi.map((m) => m.info.operationId)).toEqual(
      expect.arrayContaining(['listAgentsV2', 'listTeams', 'listUsers', 'listAgentGroups', 'listAlerts', 'listPipelines', 'listWebhooks', 'searchPackages', 'listPackageUpdates']),
    );
  });

  it('refuses a repeated field in the spec and on the server, and takes distinct fields in both', async () => {
    for (const { info, schema, fields } of multi) {
      const [a, b] = fields as [string, string];
      const accepts = ajv.compile(schema);
      const cases = [
        { sort: `${a}:asc,${a}:desc`, ok: false },
        { sort: `${b}:desc,${a}:asc,${b}:asc`, ok: false },
        { sort: `${a}:asc,${b}:desc`, ok: true },
        { sort: `${b}:asc,${a}:asc`, ok: true },
      ];
      for (const { sort, ok } of cases) {
        expect(accepts(sort), `${info.operationId}: the spec on sort=${sort}`).toBe(ok);
        const query = new URLSearchParams({ sort });
        if (info.operationId === 'searchPackages') query.set('name', 'openssl');
        const res = await server.call('GET', `${pathOf(info)}?${query.toString().replace(/%3A/g, ':').replace(/%2C/g, ',')}`);
        if (ok) expect([200, 404], `${info.operationId}: the server on sort=${sort}: ${JSON.stringify(res.body)}`).toContain(res.status);
        else expect([res.status, res.body.error?.code], `${info.operationId}: the server on sort=${sort}`).toEqual([400, 'VAL_INVALID_PARAMETER']);
      }
    }
  });
});

describe('If-Modified-Since', () => {
  const declared = withParameter('If-Modified-Since');
  const answersLastModified = [...operationsById.values()].filter((info) => {
    const ok = info.method === 'get' ? info.operation.responses?.['200'] : undefined;
    return ok !== undefined && resolveRef<OpenAPIV3_1.ResponseObject>(ok as never).headers?.['Last-Modified'] !== undefined;
  });

  it('is declared on exactly the GETs that answer Last-Modified', () => {
    expect(declared.map((i) => i.operationId).sort()).toEqual(answersLastModified.map((i) => i.operationId).sort());
    expect(declared.every((info) => info.method === 'get' && info.operation.responses?.['304'] !== undefined)).toBe(true);
    expect(declared.map((i) => i.operationId)).toEqual(expect.arrayContaining(['getAgent', 'getTask', 'getAlert', 'getProfile']));
  });

  it('answers 304 while the resource has not changed since, on every GET that declares it', { timeout: 120_000 }, async () => {
    const created = async (path: string, json: unknown) => {
      const res = await server.call('POST', path, { json });
      expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      return res.body.data;
    };
    // The caller belongs to two teams by now (it created one above): every create names its team.
    const team_id = server.teamId;
    const agent = await created('/api/v1/agents', newAgent({ team_id }));
    // An enrolled agent's task, and a file it uploaded for it.
    const enrolment = await created(`/api/v1/teams/${team_id}/enrollment-tokens`, { name: 'ims' });
    const enrolled = await created('/api/v1/agent/enroll', { enrollment_token: enrolment.secret, ...newAgent() });
    const task_id = (await created(`/api/v1/agents/${enrolled.agent.id}/actions/reboot`, {})).task_id as string;
    const upload = await fetch(`${server.url}/api/v1/agent/tasks/${task_id}/artifacts?name=ims.log`, { method: 'POST', headers: { 'x-api-key': enrolled.agent_key, 'content-type': 'text/plain' }, body: 'ims\n' });
    expect(upload.status).toBe(201);
    const artifact = ((await upload.json()) as { data: { id: string; created_at: string } }).data;
    // A certificate the enrolled agent asked for with its own key.
    const certified = await fetch(`${server.url}/api/v1/agent/certificate`, {
      method: 'POST',
      headers: { 'x-api-key': enrolled.agent_key, 'content-type': 'application/json' },
      body: JSON.stringify({ csr: (await createAgentKeyMaterial()).csr }),
    });
    expect(certified.status).toBe(201);
    const { certificate } = ((await certified.json()) as { data: { certificate: { id: string } } }).data;
    const ids: Record<string, string> = {
      team_id: server.teamId,
      user_id: (await created('/api/v1/admin/users', { email: 'ims@test.example.com', name: 'If Modified', role: 'viewer' })).id,
      agent_id: agent.id,
      group_id: (await created('/api/v1/agent-groups', { name: 'ims', team_id })).id,
      dashboard_id: (await created('/api/v1/metrics/dashboards', { name: 'ims', team_id })).id,
      task_id,
      artifact_id: artifact.id,
      deployment_id: (await created('/api/v1/deployments', { service: 'ims', version: 'v1', environment: 'staging', team_id })).id,
      pipeline_id: (await created('/api/v1/pipelines', { name: 'ims', repository: 'github.com/opsdeck/ims', team_id })).id,
      alert_id: (await created('/api/v1/alerts', { title: 'ims', severity: 'info', team_id })).id,
      webhook_id: (await created('/api/v1/webhooks', { url: 'http://127.0.0.1:9/ims', events: ['alert.triggered'], team_id })).id,
      template_id: (await created('/api/v1/tasks/templates', { name: 'ims', action: 'reboot', team_id })).id,
      schedule_id: (await created('/api/v1/tasks/schedules', { name: 'ims', cron: '0 3 * * SUN', timezone: 'UTC', team_id, run: { action: { type: 'reboot' }, target: { agent_ids: [agent.id] } } })).id,
      rule_id: (await created('/api/v1/metrics/alerts/rules', { name: 'ims', metric: 'cpu_usage', condition: { aggregation: 'avg', window_seconds: 60, operator: '>', threshold: 90 }, severity: 'info', team_id })).id,
      channel_id: (await created('/api/v1/metrics/alerts/notifications', { name: 'ims', kind: 'slack', slack_url: 'http://127.0.0.1:9/ims', team_id })).id,
      policy_id: (await created('/api/v1/config/policies', { name: 'ims', team_id, rules: { kind: 'max_task_concurrency', max: 2 } })).id,
      certificate_id: certificate.id,
      silence_id: (await created('/api/v1/metrics/alerts/silences', { ends_at: new Date(Date.now() + 60_000).toISOString(), matchers: { service: 'ims' }, comment: 'ims', team_id })).id,
    };
    for (const info of declared) {
      const path = pathOf(info, ids);
      const first = await server.call('GET', path);
      expect(first.status, path).toBe(200);
      const lastModified = first.headers.get('last-modified');
      expect(lastModified, `${path} answers Last-Modified`).toBeTruthy();
      // A file's Last-Modified is its upload; a resource's, its updated_at.
      const changedAt = info.operationId === 'downloadTaskArtifact' ? artifact.created_at : first.body.data.updated_at;
      expect(new Date(lastModified!).getTime(), path).toBe(Math.floor(Date.parse(changedAt) / 1000) * 1000);
      const since = (ms: number) => ({ 'if-modified-since': new Date(Date.parse(lastModified!) + ms).toUTCString() });

      const unchanged = await rawGet(path, since(0));
      expect(unchanged.status, path).toBe(304);
      expect(unchanged.text, path).toBe('');
      expect(unchanged.headers['last-modified'], path).toBe(lastModified);
      expect((await rawGet(path, since(60_000))).status, path).toBe(304);
      expect((await rawGet(path, since(-1000))).status, path).toBe(200);
      // If-None-Match wins over it; a value that is not a date is ignored, and so is it under Cache-Control: no-cache.
      expect((await rawGet(path, { ...since(0), 'if-none-match': '"something-else"' })).status, path).toBe(200);
      expect((await rawGet(path, { 'if-modified-since': 'yesterday' })).status, path).toBe(200);
      expect((await rawGet(path, { ...since(0), 'cache-control': 'no-cache' })).status, path).toBe(200);
      // What fetch() sends: it adds no-cache unless the caller sets Cache-Control itself.
      expect((await server.call('GET', path, { headers: since(0) })).status, path).toBe(200);
      expect((await server.call('GET', path, { headers: { ...since(0), 'cache-control': 'max-age=0' } })).status, path).toBe(304);
    }
  });
});
