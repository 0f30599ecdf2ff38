// Tasks as long-running operations through the agent protocol: enrol, act, claim, report; state
// rules; offline agents; silent agents time out; and claims hand every task to exactly one claimer.
import { sql } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpsdeckClient, unwrap, OpsdeckError } from '@opsdeck/sdk';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';

let server: TestServer;
beforeAll(async () => {
  // A short heartbeat timeout, so the time-out test is quick; every other test acts well within it.
  server = await startTestServer({ HEARTBEAT_TIMEOUT_SECONDS: '4', SWEEP_INTERVAL_MS: '200' });
});
afterAll(async () => {
  await server?.close();
});

async function enrol(overrides: Record<string, unknown> = {}) {
  const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'tests' } })).body.data.secret;
  const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent(), ...overrides } });
  expect(res.status).toBe(201);
  return { agent: res.body.data.agent, key: res.body.data.agent_key as string };
}
const asAgent = (key: string) => (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: { 'x-api-key': key }, json });

describe('enrolment', () => {
  it('joins the token team, online, with a key that acts only as that agent', async () => {
    const { agent, key } = await enrol();
    expect(agent).toMatchObject({ team_id: server.teamId, status: 'online' });
    expect(agent.last_seen).not.toBeNull();
    expect((await asAgent(key)('POST', '/api/v1/agent/heartbeat')).status).toBe(200);
    const asUser = await asAgent(key)('GET', '/api/v2/agents');
    expect(asUser.status).toBe(403);
  });

  it('re-enrols by hostname: the same agent, a new key, the old key revoked', async () => {
    const first = await enrol();
    const second = await enrol({ hostname: first.agent.hostname });
    expect(second.agent.id).toBe(first.agent.id);
    expect((await asAgent(first.key)('POST', '/api/v1/agent/heartbeat')).status).toBe(401);
    expect((await asAgent(second.key)('POST', '/api/v1/agent/heartbeat')).status).toBe(200);
  });

  it('refuses unknown, revoked, expired and used-up tokens with 401', async () => {
    const bad = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: 'oet_AAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBB', ...newAgent() } });
    expect(bad.status).toBe(401);
    const once = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'once', max_uses: 1 } })).body.data;
    expect((await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: once.secret, ...newAgent() } })).status).toBe(201);
    expect((await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: once.secret, ...newAgent() } })).status).toBe(401);
    const revoked = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'revoked' } })).body.data;
    expect((await server.call('DELETE', `/api/v1/teams/${server.teamId}/enrollment-tokens/${revoked.id}`)).status).toBe(204);
    expect((await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: revoked.secret, ...newAgent() } })).status).toBe(401);
    const listed = (await server.call('GET', `/api/v1/teams/${server.teamId}/enrollment-tokens`)).body.data;
    expect(listed.find((t: { id: string }) => t.id === once.id)).toMatchObject({ uses: 1, max_uses: 1 });
    expect(JSON.stringify(listed)).not.toContain(once.secret);
  });
});

describe('a reboot through the SDK, watched from pending to succeeded', () => {
  it('goes pending → running → succeeded with progress, logs and result', async () => {
    const opsdeck = createOpsdeckClient({ baseUrl: server.url, token: server.adminToken, retries: false });
    const { agent, key } = await enrol();
    const hostAgent = createOpsdeckClient({ baseUrl: server.url, apiKey: key, retries: false });
    const accepted = await opsdeck.POST('/api/v1/agents/{agent_id}/actions/reboot', { params: { path: { agent_id: agent.id } }, body: { reason: 'kernel' } });
    expect(accepted.response.status).toBe(202);
    const { task_id, status_url } = accepted.data!.data;
    expect(accepted.response.headers.get('location')).toBe(status_url);
    const watch = () => unwrap(opsdeck.GET('/api/v1/tasks/{task_id}', { params: { path: { task_id } } }));
    expect(await watch()).toMatchObject({ status: 'pending', type: 'reboot', parameters: { reason: 'kernel' }, progress: 0 });

    const [claimed] = await unwrap(hostAgent.POST('/api/v1/agent/tasks/claim', { body: { max_tasks: 5 } }));
    expect(claimed!.id).toBe(task_id);
    expect((await watch()).status).toBe('running');
    await unwrap(hostAgent.POST('/api/v1/agent/tasks/{task_id}/progress', { params: { path: { task_id } }, body: { progress: 50, logs: ['stopping services', 'rebooting'], eta: new Date(Date.now() + 60_000).toISOString() } }));
    expect(await watch()).toMatchObject({ status: 'running', progress: 50 });
    await unwrap(hostAgent.POST('/api/v1/agent/tasks/{task_id}/progress', { params: { path: { task_id } }, body: { status: 'succeeded', logs: ['back up'], result: { exit_code: 0 } } }));
    const done = await watch();
    expect(done).toMatchObject({ status: 'succeeded', progress: 100, result: { exit_code: 0 } });
    expect(done.finished_at).not.toBeNull();
    const logs = await unwrap(opsdeck.GET('/api/v1/tasks/{task_id}/logs', { params: { path: { task_id } } }));
    expect(logs.map((l) => [l.seq, l.line])).toEqual([[1, 'stopping services'], [2, 'rebooting'], [3, 'back up']]);
    // A finished task takes no more reports.
    const late = await hostAgent.POST('/api/v1/agent/tasks/{task_id}/progress', { params: { path: { task_id } }, body: { progress: 10 } });
    expect(late.response.status).toBe(409);
  });
});

describe('state rules', () => {
  it('refuses an offline agent unless the task is queued on purpose', async () => {
    const offline = (await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'offline' }) })).body.data;
    const refused = await server.call('POST', `/api/v1/agents/${offline.id}/actions/reboot`, { json: {} });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('BIZ_AGENT_OFFLINE');
    const queued = await server.call('POST', `/api/v1/agents/${offline.id}/actions/command`, { json: { command: 'uptime', queue_if_offline: true } });
    expect(queued.status).toBe(202);
    const task = (await server.call('GET', `/api/v1/tasks/${queued.body.data.task_id}`)).body.data;
    expect(task).toMatchObject({ queued_offline: true, status: 'pending', parameters: { command: 'uptime', args: [], timeout_seconds: 300 } });
  });

  it('cancels pending and running tasks, not finished ones; retries failed and cancelled ones only', async () => {
    const { agent, key } = await enrol();
    const act = async () => (await server.call('POST', `/api/v1/agents/${agent.id}/actions/shutdown`, { json: {} })).body.data.task_id as string;
    const pending = await act();
    expect((await server.call('POST', `/api/v1/tasks/${pending}/retry`)).body.error.code).toBe('BIZ_TASK_ALREADY_RUNNING');
    const cancelled = await server.call('POST', `/api/v1/tasks/${pending}/cancel`);
    expect(cancelled.body.data).toMatchObject({ status: 'cancelled' });
    expect((await server.call('POST', `/api/v1/tasks/${pending}/cancel`)).body.error.code).toBe('BIZ_TASK_FINISHED');
    const retried = await server.call('POST', `/api/v1/tasks/${pending}/retry`);
    expect(retried.status).toBe(202);
    const retry = (await server.call('GET', `/api/v1/tasks/${retried.body.data.task_id}`)).body.data;
    expect(retry).toMatchObject({ status: 'pending', attempt: 2, retry_of: pending, type: 'shutdown' });

    // Running, then cancelled: the agent learns it at its next report.
    const [running] = (await asAgent(key)('POST', '/api/v1/agent/tasks/claim', { max_tasks: 1 })).body.data;
    expect((await server.call('POST', `/api/v1/tasks/${running.id}/cancel`)).status).toBe(200);
    const report = await asAgent(key)('POST', `/api/v1/agent/tasks/${running.id}/progress`, { progress: 80 });
    expect(report.status).toBe(409);
    expect(report.body.error.code).toBe('BIZ_TASK_FINISHED');

    const succeeded = await act();
    await asAgent(key)('POST', '/api/v1/agent/tasks/claim', { max_tasks: 1 });
    await asAgent(key)('POST', `/api/v1/agent/tasks/${succeeded}/progress`, { status: 'succeeded' });
    expect((await server.call('POST', `/api/v1/tasks/${succeeded}/retry`)).body.error.code).toBe('BIZ_TASK_NOT_RETRYABLE');
  });

  it('an agent cannot report on another agent’s task', async () => {
    const one = await enrol();
    const other = await enrol();
    const task = (await server.call('POST', `/api/v1/agents/${one.agent.id}/actions/reboot`, { json: {} })).body.data.task_id;
    expect((await asAgent(other.key)('POST', `/api/v1/agent/tasks/${task}/progress`, { progress: 1 })).status).toBe(404);
    expect((await asAgent(other.key)('POST', '/api/v1/agent/tasks/claim', { max_tasks: 10 })).body.data).toEqual([]);
  });

  it('times out the running tasks of an agent that stops heartbeating, and marks it offline', async () => {
    const { agent, key } = await enrol();
    const task = (await server.call('POST', `/api/v1/agents/${agent.id}/actions/reboot`, { json: {} })).body.data.task_id;
    await asAgent(key)('POST', '/api/v1/agent/tasks/claim', { max_tasks: 1 });
    await expect.poll(async () => (await server.call('GET', `/api/v1/tasks/${task}`)).body.data.status, { timeout: 15_000, interval: 250 }).toBe('failed');
    expect((await server.call('GET', `/api/v1/tasks/${task}`)).body.data.error).toBe('agent stopped heartbeating');
    expect((await server.call('GET', `/api/v1/agents/${agent.id}`)).body.data.status).toBe('offline');
    expect((await server.call('GET', '/api/v1/agents/summary')).body.data.by_status.offline).toBeGreaterThan(0);
    // The sweep announced both, in its own transaction: agent.offline and task.failed, each with the resource.
    const events = await server.database.db
      .selectFrom('events')
      .select(['type', sql<string>`data->>'id'`.as('about'), sql<string>`data->>'status'`.as('status')])
      .where(sql<string>`data->>'id'`, 'in', [agent.id, task])
      .where('type', 'in', ['agent.offline', 'task.failed'])
      .orderBy('type')
      .execute();
    expect(events).toEqual([
      { type: 'agent.offline', about: agent.id, status: 'offline' },
      { type: 'task.failed', about: task, status: 'failed' },
    ]);
    const back = await asAgent(key)('POST', '/api/v1/agent/heartbeat');
    expect(back.body.data.status).toBe('online');
  });
});

describe('exactly-once claims', () => {
  it('hands 1,000 tasks to 8 concurrent claimers with none twice and none lost', async (ctx) => {
    if (!server.testDatabase.url) return ctx.skip('needs a real PostgreSQL for row locks across connections');
    const { agent, key } = await enrol();
    const ids = Array.from({ length: 1000 }, () => uuidv7());
    await server.database.db
      .insertInto('tasks')
      .values(ids.map((id) => ({ id, team_id: server.teamId, agent_id: agent.id, type: 'command' as const, parameters: JSON.stringify({ command: 'true' }) })))
      .execute();
    const claims: string[] = [];
    const claimer = async () => {
      for (;;) {
        const res = await asAgent(key)('POST', '/api/v1/agent/tasks/claim', { max_tasks: 7 });
        expect(res.status).toBe(200);
        if (res.body.data.length === 0) return;
        claims.push(...res.body.data.map((t: { id: string }) => t.id));
      }
    };
    await Promise.all(Array.from({ length: 8 }, claimer));
    expect(claims).toHaveLength(1000);
    expect(new Set(claims).size).toBe(1000);
    expect(new Set(claims)).toEqual(new Set(ids));
    const left = await server.database.db.selectFrom('tasks').select('id').where('agent_id', '=', agent.id).where('status', '=', 'pending').execute();
    expect(left).toEqual([]);
  });
});

it('SDK errors for task rules carry their codes', async () => {
  const opsdeck = createOpsdeckClient({ baseUrl: server.url, token: server.adminToken, retries: false });
  const offline = (await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'offline' }) })).body.data;
  const error = await unwrap(opsdeck.POST('/api/v1/agents/{agent_id}/actions/reboot', { params: { path: { agent_id: offline.id } }, body: {} })).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpsdeckError);
  expect((error as OpsdeckError).code).toBe('BIZ_AGENT_OFFLINE');
});

describe('the simulated fleet (npm run agent:sim, and the embedded demo)', () => {
  it('enrols, heartbeats and runs a reboot asked for through the SDK, from pending to succeeded', async () => {
    const { startFleet } = await import('../../server/demo/simulated-fleet.ts');
    const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'sim' } })).body.data.secret;
    const fleet = await startFleet({ baseUrl: server.url, enrollmentToken: token, count: 3, heartbeatMs: 200, taskMs: 400, prefix: 'simtest' });
    try {
      const opsdeck = createOpsdeckClient({ baseUrl: server.url, token: server.adminToken, retries: false });
      const agentId = fleet.hosts[0]!.agentId!;
      const { task_id } = await unwrap(opsdeck.POST('/api/v1/agents/{agent_id}/actions/reboot', { params: { path: { agent_id: agentId } }, body: {} }));
      const seen = new Set<string>();
      await expect
        .poll(
          async () => {
            const task = await unwrap(opsdeck.GET('/api/v1/tasks/{task_id}', { params: { path: { task_id } } }));
            seen.add(task.status);
            return task.status;
          },
          { timeout: 15_000, interval: 50 },
        )
        .toBe('succeeded');
      expect(seen.has('pending') || seen.has('running')).toBe(true);
      expect(fleet.totals()).toMatchObject({ hosts: 3, succeeded: 1, errors: 0 });
      expect(fleet.totals().heartbeats).toBeGreaterThan(3);
      expect(fleet.totals().metrics).toBeGreaterThan(0);
      const packages = await unwrap(opsdeck.GET('/api/v1/agents/{agent_id}/packages', { params: { path: { agent_id: agentId } } }));
      expect(packages.map((p) => p.name).sort()).toEqual(['nginx', 'openssl', 'opsdeck-agent']);
    } finally {
      await fleet.stop();
    }
  });
});
