// Field selection on the lists of tasks, alerts, deployments, pipelines, pipeline runs and agent groups:
// `fields=…` trims every item to the fields named, `id` always kept, and an unknown field is refused with 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { newAgent } from '../support/http.ts';

let server: TestServer;
let pipelineId: string;
const unique = () => `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  server = await startTestServer();
  const created = async (path: string, json: unknown, status = 201) => {
    const res = await server.call('POST', path, { json });
    expect(res.status, res.text).toBe(status);
    return res.body.data;
  };
  const agent = await created('/api/v1/agents', newAgent({ status: 'offline' }));
  await created(`/api/v1/agents/${agent.id}/actions/command`, { command: 'uptime', queue_if_offline: true }, 202);
  await created('/api/v1/alerts', { title: 'Disk /var above 90%', severity: 'warning' });
  await created('/api/v1/deployments', { service: `svc-${unique()}`, version: 'v1.0.0', environment: 'staging' });
  const pipeline = await created('/api/v1/pipelines', { name: `build ${unique()}`, repository: 'github.com/opsdeck/api-gateway' });
  pipelineId = pipeline.id;
  await created(`/api/v1/pipelines/${pipelineId}/runs`, { commit_sha: '9fceb02d0ae598e95dc970b74767f19372d61af8' });
  await created('/api/v1/agent-groups', { name: `group ${unique()}` });
});
afterAll(async () => {
  await server?.close();
});

const lists = [
  { path: '/api/v1/tasks', field: 'status' },
  { path: '/api/v1/alerts', field: 'title' },
  { path: '/api/v1/deployments', field: 'service' },
  { path: '/api/v1/pipelines', field: 'name' },
  { path: '/api/v1/pipelines/{pipeline_id}/runs', field: 'status' },
  { path: '/api/v1/agent-groups', field: 'name' },
];
// The pipeline exists only once beforeAll has run, so its id is put into the path then.
const url = (path: string) => path.replace('{pipeline_id}', pipelineId);

describe.each(lists)('$path', ({ path, field }) => {
  it(`trims items to fields=${field}, always keeping id`, async () => {
    const res = await server.call('GET', `${url(path)}?fields=${field}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.length).toBeGreaterThan(0);
    for (const item of res.body.data) expect(Object.keys(item).sort()).toEqual(['id', field].sort());
  });

  it('returns every field without fields', async () => {
    const res = await server.call('GET', url(path));
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body.data[0]).length).toBeGreaterThan(2);
  });

  it('refuses an unknown field with 400 VAL_INVALID_PARAMETER', async () => {
    const res = await server.call('GET', `${url(path)}?fields=nope`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VAL_INVALID_PARAMETER');
  });
});
