// Every change that consumers hear about records its event in the outbox, in the change's own transaction:
// the event carries the resource exactly as its `get…` operation answers it right after the change, a
// refused change records nothing, and a bulk request records one event per item it stored.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';

let server: TestServer;
beforeAll(async () => {
  // Workers off: events stay in the outbox, undispatched, where this test reads them.
  server = await startTestServer({ BACKGROUND_WORKERS: 'false' });
});
afterAll(async () => {
  await server?.close();
});

interface OutboxRow {
  type: string;
  channel: string | null;
  team_id: string;
  data: { id: string; status?: string };
  dispatched_at: Date | null;
}

/** The outbox rows about one resource, oldest first. */
async function eventsAbout(resourceId: string): Promise<OutboxRow[]> {
  const rows = await server.database.db
    .selectFrom('events')
    .select(['type', 'channel', 'team_id', 'data', 'dispatched_at'])
    .where(sql<string>`data->>'id'`, '=', resourceId)
    .orderBy('occurred_at')
    .orderBy('id')
    .execute();
  return rows as OutboxRow[];
}

const get = async (path: string) => (await server.call('GET', path)).body.data;

async function enrol() {
  const token = (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'outbox' } })).body.data.secret;
  const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent() } });
  expect(res.status).toBe(201);
  const key = res.body.data.agent_key as string;
  return { agent: res.body.data.agent, asAgent: (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: { 'x-api-key': key }, json }) };
}

describe('alerts', () => {
  it('records alert.triggered, alert.acknowledged and alert.resolved with the alert as getAlert answers it', async () => {
    const created = await server.call('POST', '/api/v1/alerts', { json: { title: 'Disk full', severity: 'critical', fingerprint: 'outbox:disk' } });
    expect(created.status).toBe(201);
    const id = created.body.data.id as string;
    const afterCreate = await get(`/api/v1/alerts/${id}`);
    await server.call('POST', `/api/v1/alerts/${id}/acknowledge`);
    const afterAck = await get(`/api/v1/alerts/${id}`);
    await server.call('POST', `/api/v1/alerts/${id}/resolve`);
    const afterResolve = await get(`/api/v1/alerts/${id}`);

    const events = await eventsAbout(id);
    expect(events.map((e) => e.type)).toEqual(['alert.triggered', 'alert.acknowledged', 'alert.resolved']);
    expect(events.map((e) => e.data)).toEqual([afterCreate, afterAck, afterResolve]);
    expect(events.every((e) => e.channel === 'alerts' && e.team_id === server.teamId && e.dispatched_at === null)).toBe(true);
  });

  it('records nothing for a refused change', async () => {
    const first = await server.call('POST', '/api/v1/alerts', { json: { title: 'Load high', severity: 'warning', fingerprint: 'outbox:load' } });
    const before = await server.database.db.selectFrom('events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const duplicate = await server.call('POST', '/api/v1/alerts', { json: { title: 'Load high', severity: 'warning', fingerprint: 'outbox:load' } });
    expect(duplicate.status).toBe(409);
    const resolvedTwice = await server.call('POST', `/api/v1/alerts/${first.body.data.id}/acknowledge`);
    expect(resolvedTwice.status).toBe(200);
    expect((await server.call('POST', `/api/v1/alerts/${first.body.data.id}/acknowledge`)).status).toBe(409);
    const after = await server.database.db.selectFrom('events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n) + 1); // the one acknowledgement
  });

  it('records one alert.triggered per stored item of a bulk request, none for the refused ones', async () => {
    const res = await server.call('POST', '/api/v1/alerts/bulk', {
      json: {
        alerts: [
          { title: 'Bulk 1', severity: 'info', fingerprint: 'outbox:bulk' },
          { title: 'Bulk 2', severity: 'nope' },
          { title: 'Bulk 3', severity: 'info', fingerprint: 'outbox:bulk' },
          { title: 'Bulk 4', severity: 'warning' },
        ],
      },
    });
    expect(res.status).toBe(200);
    const results = res.body.data.results as Array<{ status: string; id?: string }>;
    expect(results.map((r) => r.status)).toEqual(['created', 'failed', 'failed', 'created']);
    for (const { id } of results.filter((r) => r.status === 'created')) {
      const events = await eventsAbout(id!);
      expect(events.map((e) => e.type)).toEqual(['alert.triggered']);
      expect(events[0]!.data).toEqual(await get(`/api/v1/alerts/${id}`));
    }
  });
});

describe('agents and tasks', () => {
  it('records agent.enrolled, and the creation and end of each task: task.created, then task.completed, task.failed, task.cancelled', async () => {
    const { agent, asAgent } = await enrol();
    expect((await eventsAbout(agent.id)).map((e) => [e.type, e.channel])).toEqual([['agent.enrolled', 'agents']]);

    const act = async () => (await server.call('POST', `/api/v1/agents/${agent.id}/actions/command`, { json: { command: 'uptime' } })).body.data.task_id as string;
    const ok = await act();
    const bad = await act();
    const cancelled = await act();
    await asAgent('POST', '/api/v1/agent/tasks/claim', { max_tasks: 2 });
    await asAgent('POST', `/api/v1/agent/tasks/${ok}/progress`, { progress: 40 });
    // Created, and progress is not an end.
    expect((await eventsAbout(ok)).map((e) => [e.type, e.channel])).toEqual([['task.created', 'tasks']]);
    await asAgent('POST', `/api/v1/agent/tasks/${ok}/progress`, { status: 'succeeded', result: { exit_code: 0 } });
    await asAgent('POST', `/api/v1/agent/tasks/${bad}/progress`, { status: 'failed', error: 'exit code 1' });
    await server.call('POST', `/api/v1/tasks/${cancelled}/cancel`);

    for (const [id, type] of [
      [ok, 'task.completed'],
      [bad, 'task.failed'],
      [cancelled, 'task.cancelled'],
    ] as const) {
      const events = await eventsAbout(id);
      expect(events.map((e) => [e.type, e.channel])).toEqual([['task.created', 'tasks'], [type, 'tasks']]);
      expect(events[0]!.data).toMatchObject({ id, status: 'pending' });
      expect(events[1]!.data).toEqual(await get(`/api/v1/tasks/${id}`));
    }
  });
});

describe('deployments', () => {
  it('records deployment.finished when one ends, and for the one a successful rollback replaces', async () => {
    const deploy = async (version: string) => {
      const created = (await server.call('POST', '/api/v1/deployments', { json: { service: 'billing-api', version, environment: 'production' } })).body.data;
      await server.call('PATCH', `/api/v1/deployments/${created.id}`, { json: { status: 'running' } });
      await server.call('PATCH', `/api/v1/deployments/${created.id}`, { json: { status: 'succeeded' } });
      return created.id as string;
    };
    await deploy('v1.0.0');
    const second = await deploy('v1.1.0');
    expect((await eventsAbout(second)).map((e) => [e.type, e.data.status])).toEqual([['deployment.finished', 'succeeded']]);

    const rollback = (await server.call('POST', `/api/v1/deployments/${second}/rollback`)).body.data.rollback_id as string;
    await server.call('PATCH', `/api/v1/deployments/${rollback}`, { json: { status: 'running' } });
    expect(await eventsAbout(rollback)).toEqual([]);
    await server.call('PATCH', `/api/v1/deployments/${rollback}`, { json: { status: 'succeeded' } });
    expect((await eventsAbout(rollback)).map((e) => [e.type, e.data.status])).toEqual([['deployment.finished', 'succeeded']]);
    const replaced = await eventsAbout(second);
    expect(replaced.map((e) => [e.type, e.data.status])).toEqual([
      ['deployment.finished', 'succeeded'],
      ['deployment.finished', 'rolled_back'],
    ]);
    expect(replaced[1]!.data).toEqual(await get(`/api/v1/deployments/${second}`));
  });
});
