// Fleet tasks over HTTP: a parent and one child per agent of a target (agent ids, a group, a filter), run by agents
// through the agent protocol: counts that follow the children, the concurrency limit, the failure threshold that
// stops the rollout, cancelling the parent, offline agents skipped or queued, tenant isolation, bad bodies, an
// agent's own tasks (`/agents/{id}/tasks`), the events, and the simulator (`npm run agent:sim`) running a group's.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createOutsider, type TestUser } from '../support/identity.ts';
import { createOpsdeckClient, taskChildren, unwrap, waitForTask } from '@opsdeck/sdk';

let server: TestServer;
let outsider: TestUser;
let outsiderTeam: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ outsider, outsiderTeam } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
});

interface Host {
  id: string;
  key: string;
  hostname: string;
}

/** Enrols `n` agents (online, with keys) in a team, hostnames starting with `prefix`. */
async function enrol(n: number, prefix = `fleet-${randomUUID().slice(0, 8)}`, as: { teamId: string; token: string } = { teamId: server.teamId, token: server.adminToken }): Promise<Host[]> {
  const token = await http(server.url, 'POST', `/api/v1/teams/${as.teamId}/enrollment-tokens`, { json: { name: 'fleet tests', max_uses: n }, headers: bearer(as.token) });
  expect(token.status, token.text).toBe(201);
  const hosts: Host[] = [];
  for (let i = 0; i < n; i += 1) {
    const hostname = `${prefix}-${i}.test.example.com`;
    const res = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { ...newAgent(), hostname, enrollment_token: token.body.data.secret } });
    expect(res.status, res.text).toBe(201);
    hosts.push({ id: res.body.data.agent.id, key: res.body.data.agent_key, hostname });
  }
  return hosts;
}

const asAgent = (host: Host) => ({
  claim: async (max = 5): Promise<Array<{ id: string; parent_id: string | null }>> => {
    const res = await http(server.url, 'POST', '/api/v1/agent/tasks/claim', { json: { max_tasks: max }, headers: { 'x-api-key': host.key } });
    expect(res.status, res.text).toBe(200);
    return res.body.data;
  },
  report: async (taskId: string, body: Record<string, unknown>) => {
    const res = await http(server.url, 'POST', `/api/v1/agent/tasks/${taskId}/progress`, { json: body, headers: { 'x-api-key': host.key } });
    expect(res.status, res.text).toBe(200);
    return res.body.data;
  },
  heartbeat: async (): Promise<number> => {
    const res = await http(server.url, 'POST', '/api/v1/agent/heartbeat', { headers: { 'x-api-key': host.key } });
    expect(res.status, res.text).toBe(200);
    return res.body.data.pending_tasks;
  },
});

async function newGroup(agentIds: string[]): Promise<string> {
  const group = await server.call('POST', '/api/v1/agent-groups', { json: { name: `fleet ${randomUUID()}` } });
  expect(group.status, group.text).toBe(201);
  if (agentIds.length > 0) expect((await server.call('POST', `/api/v1/agent-groups/${group.body.data.id}/members`, { json: { agent_ids: agentIds } })).status).toBe(200);
  return group.body.data.id;
}

const reboot = { type: 'reboot', parameters: { reason: 'fleet test' } };

/** A command template of a team whose runs need a `reason` of 3 characters or more. */
async function newTemplate(as: { token: string } = { token: server.adminToken }): Promise<{ id: string }> {
  const res = await http(server.url, 'POST', '/api/v1/tasks/templates', {
    json: {
      name: `restart nginx ${randomUUID()}`,
      action: 'command',
      defaults: { command: 'systemctl', args: ['restart', 'nginx'] },
      parameters_schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 3, maxLength: 200 } } },
    },
    headers: bearer(as.token),
  });
  expect(res.status, res.text).toBe(201);
  return res.body.data;
}

async function createFleet(body: Record<string, unknown>): Promise<string> {
  const res = await server.call('POST', '/api/v1/tasks', { json: 'template' in body ? body : { action: reboot, ...body } });
  expect(res.status, res.text).toBe(202);
  expect(res.headers.get('location')).toBe(`/api/v1/tasks/${res.body.data.task_id}`);
  return res.body.data.task_id;
}
const getTask = async (id: string) => {
  const res = await server.call('GET', `/api/v1/tasks/${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body.data;
};
async function children(parentId: string): Promise<Array<{ id: string; agent_id: string; status: string; error: string | null; queued_offline: boolean }>> {
  const res = await server.call('GET', `/api/v1/tasks?parent_id=${parentId}&limit=100`);
  expect(res.status, res.text).toBe(200);
  return res.body.data;
}

/** Every agent claims once; answers what each claimed. */
const claimAll = async (hosts: Host[]) => (await Promise.all(hosts.map(async (host) => ({ host, tasks: await asAgent(host).claim() })))).filter((c) => c.tasks.length > 0);

describe('a rollout run by agents', () => {
  it('keeps at most `concurrency` children claimable, lets one go per child that ends, and counts them to the end', async () => {
    const hosts = await enrol(7);
    const groupId = await newGroup(hosts.map((h) => h.id));
    const parentId = await createFleet({ target: { group_id: groupId }, concurrency: 3 });

    const created = await getTask(parentId);
    expect(created).toMatchObject({ kind: 'fleet', agent_id: null, parent_id: null, type: 'reboot', status: 'pending', progress: 0 });
    expect(created.fleet).toMatchObject({
      target: { group_id: groupId },
      concurrency: 3,
      failure_threshold_percent: 100,
      queue_if_offline: false,
      total: 7,
      counts: { pending: 7, running: 0, succeeded: 0, failed: 0, cancelled: 0, skipped_offline: 0 },
      stopped_reason: null,
    });
    const kids = await children(parentId);
    expect(kids).toHaveLength(7);
    expect(new Set(kids.map((k) => k.agent_id))).toEqual(new Set(hosts.map((h) => h.id)));

    // Held children are not pending for their agents: the heartbeats count only the three claimable ones.
    const pending = await Promise.all(hosts.map((h) => asAgent(h).heartbeat()));
    expect(pending.reduce((a, b) => a + b, 0)).toBe(3);

    let running = await claimAll(hosts);
    expect(running).toHaveLength(3);
    expect(await getTask(parentId)).toMatchObject({ status: 'running', fleet: { counts: { pending: 4, running: 3 } } });
    expect((await claimAll(hosts)).length).toBe(0);

    // Each end lets exactly one more go; never more than three at once. One child fails.
    let finished = 0;
    let failedOne = false;
    while (running.length > 0) {
      const { host, tasks } = running.shift()!;
      const fail = !failedOne;
      failedOne = true;
      await asAgent(host).report(tasks[0]!.id, { progress: 50, logs: ['rebooting'] });
      await asAgent(host).report(tasks[0]!.id, fail ? { status: 'failed', error: 'disk full' } : { status: 'succeeded', result: { exit_code: 0 } });
      finished += 1;
      const next = await claimAll(hosts);
      expect(next.length).toBeLessThanOrEqual(1);
      running = [...running, ...next];
      expect(running.length).toBeLessThanOrEqual(3);
    }
    expect(finished).toBe(7);
    const done = await getTask(parentId);
    expect(done).toMatchObject({ status: 'failed', progress: 100, error: '1 of 7 children failed' });
    expect(done.fleet.counts).toEqual({ pending: 0, running: 0, succeeded: 6, failed: 1, cancelled: 0, skipped_offline: 0 });
    expect(done.finished_at).not.toBeNull();

    // The events: one task.created for the parent and each child, and the parent's end.
    const events = await server.database.db.selectFrom('events').select(['type', 'data']).where('team_id', '=', server.teamId).orderBy('id').execute();
    const about = (id: string) => events.filter((e) => (e.data as { id: string }).id === id).map((e) => e.type);
    expect(about(parentId)).toEqual(['task.created', 'task.failed']);
    for (const kid of kids) expect(about(kid.id)[0]).toBe('task.created');
  });

  it('never lets more than `concurrency` children go at once while many agents claim and report at the same time', async () => {
    const hosts = await enrol(16);
    const parentId = await createFleet({ target: { agent_ids: hosts.map((h) => h.id) }, concurrency: 4, failure_threshold_percent: 100 });
    // Claimable or running children of the parent, as the database holds them, sampled all along the run.
    const released = async () =>
      (await server.database.db.selectFrom('tasks').select(sql<number>`count(*)::int`.as('n')).where('parent_id', '=', parentId).where('held', '=', false).where('status', 'in', ['pending', 'running']).executeTakeFirstOrThrow()).n;
    let running = true;
    const samples: number[] = [];
    const sampler = (async () => {
      while (running) samples.push(await released());
    })();
    let failures = 0;
    await Promise.all(
      hosts.map(async (host, i) => {
        for (let attempt = 0; attempt < 200; attempt += 1) {
          const [task] = await asAgent(host).claim();
          if (task) {
            const fail = i % 5 === 0;
            if (fail) failures += 1;
            await asAgent(host).report(task.id, fail ? { status: 'failed', error: 'no' } : { status: 'succeeded' });
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }),
    );
    running = false;
    await sampler;
    expect(samples.length).toBeGreaterThan(5);
    expect(Math.max(...samples)).toBeLessThanOrEqual(4);
    const done = await getTask(parentId);
    expect(done.status).toBe('failed');
    expect(done.fleet.counts).toEqual({ pending: 0, running: 0, succeeded: 16 - failures, failed: failures, cancelled: 0, skipped_offline: 0 });
  });

  it('succeeds when every child succeeds, on an agent-ids target, in the order given', async () => {
    const hosts = await enrol(3);
    const parentId = await createFleet({ target: { agent_ids: hosts.map((h) => h.id).reverse() }, concurrency: 1 });
    for (const host of [...hosts].reverse()) {
      const [task] = await asAgent(host).claim();
      expect(task, `${host.hostname} claims its child in turn`).toBeDefined();
      await asAgent(host).report(task!.id, { status: 'succeeded' });
    }
    const done = await getTask(parentId);
    expect(done).toMatchObject({ status: 'succeeded', progress: 100, error: null });
    expect(done.fleet.counts).toMatchObject({ succeeded: 3, pending: 0, running: 0 });
    const events = await server.database.db.selectFrom('events').select(['type']).where('data', '@>', JSON.stringify({ id: parentId }) as never).orderBy('id').execute();
    expect(events.map((e) => e.type)).toEqual(['task.created', 'task.completed']);
  });

  it('stops the rollout when failures reach the threshold: children not started are cancelled, the parent fails', async () => {
    const hosts = await enrol(10);
    const parentId = await createFleet({ target: { agent_ids: hosts.map((h) => h.id) }, concurrency: 3, failure_threshold_percent: 20 });
    const running = await claimAll(hosts);
    expect(running).toHaveLength(3);
    await asAgent(running[0]!.host).report(running[0]!.tasks[0]!.id, { status: 'failed', error: 'boom' });
    expect((await getTask(parentId)).status).toBe('running');
    // The second failure is 20 % of 10: the rollout stops.
    await asAgent(running[1]!.host).report(running[1]!.tasks[0]!.id, { status: 'failed', error: 'boom' });
    const stopped = await getTask(parentId);
    expect(stopped).toMatchObject({ status: 'failed' });
    expect(stopped.fleet.stopped_reason).toMatch(/failure threshold reached: 2 of 10/);
    expect(stopped.fleet.counts).toEqual({ pending: 0, running: 1, succeeded: 0, failed: 2, cancelled: 7, skipped_offline: 0 });
    expect((await claimAll(hosts)).length).toBe(0);
    const cancelled = (await children(parentId)).filter((k) => k.status === 'cancelled');
    expect(cancelled).toHaveLength(7);
    expect(cancelled[0]!.error).toMatch(/rollout stopped/);
    // The child still running finishes and is counted; the parent stays failed.
    await asAgent(running[2]!.host).report(running[2]!.tasks[0]!.id, { status: 'succeeded' });
    const last = await getTask(parentId);
    expect(last).toMatchObject({ status: 'failed', progress: 100 });
    expect(last.fleet.counts).toMatchObject({ running: 0, succeeded: 1, failed: 2, cancelled: 7 });
  });

  it('cancels the children not started when the parent is cancelled; running ones finish and are counted', async () => {
    const hosts = await enrol(5);
    const parentId = await createFleet({ target: { agent_ids: hosts.map((h) => h.id) }, concurrency: 2 });
    const running = await claimAll(hosts);
    expect(running).toHaveLength(2);
    const res = await server.call('POST', `/api/v1/tasks/${parentId}/cancel`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'cancelled', fleet: { counts: { pending: 0, running: 2, cancelled: 3 } } });
    expect(res.body.data.fleet.stopped_reason).toMatch(/^cancelled by /);
    expect((await claimAll(hosts)).length).toBe(0);
    await asAgent(running[0]!.host).report(running[0]!.tasks[0]!.id, { status: 'succeeded' });
    expect(await getTask(parentId)).toMatchObject({ status: 'cancelled', fleet: { counts: { running: 1, succeeded: 1, cancelled: 3 } } });

    const again = await server.call('POST', `/api/v1/tasks/${parentId}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('BIZ_TASK_FINISHED');
    const retry = await server.call('POST', `/api/v1/tasks/${parentId}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe('BIZ_FLEET_TASK_NOT_RETRYABLE');
  });

  it('counts the children of a deleted agent cancelled, so the fleet task still finishes', async () => {
    const hosts = await enrol(2);
    const parentId = await createFleet({ target: { agent_ids: hosts.map((h) => h.id) } });
    const [task] = await asAgent(hosts[0]!).claim();
    expect((await server.call('DELETE', `/api/v1/agents/${hosts[1]!.id}`)).status).toBe(204);
    expect((await getTask(parentId)).fleet.counts).toMatchObject({ running: 1, pending: 0, cancelled: 1 });
    await asAgent(hosts[0]!).report(task!.id, { status: 'succeeded' });
    expect(await getTask(parentId)).toMatchObject({ status: 'cancelled', fleet: { total: 2, counts: { succeeded: 1, cancelled: 1 } } });
  });

  it('cancelling one child counts it and lets the next one go', async () => {
    const hosts = await enrol(3);
    const parentId = await createFleet({ target: { agent_ids: hosts.map((h) => h.id) }, concurrency: 1 });
    const first = (await children(parentId)).find((k) => k.agent_id === hosts[0]!.id)!;
    expect((await server.call('POST', `/api/v1/tasks/${first.id}/cancel`)).status).toBe(200);
    expect((await getTask(parentId)).fleet.counts).toMatchObject({ pending: 2, cancelled: 1 });
    expect(await asAgent(hosts[1]!).heartbeat()).toBe(1);
    expect(await asAgent(hosts[2]!).heartbeat()).toBe(0);
  });
});

describe('at scale', () => {
  it('creates a fleet task on 5,000 agents in one request: every child and every event, skipped ones too', async () => {
    const db = server.database.db;
    const run = randomUUID().slice(0, 8);
    const n = 5_000;
    // Seeded by SQL: a quarter offline, so children are skipped (two events each) as well as queued.
    await sql`insert into agents (id, team_id, hostname, ip_address, platform, status, last_seen, tags)
              select gen_random_uuid(), ${server.teamId}, 'scale-' || ${run} || '-' || i || '.test.example.com', '10.201.0.0'::inet + i, 'linux',
                     case when i % 4 = 0 then 'offline' else 'online' end, now(), '{}'
                from generate_series(1, ${n}::int) i`.execute(db);
    const groupId = await newGroup([]);
    await sql`insert into agent_group_members (group_id, agent_id) select ${groupId}, id from agents where hostname like ${`scale-${run}-%`}`.execute(db);
    const started = performance.now();
    const parentId = await createFleet({ target: { group_id: groupId }, concurrency: 100 });
    const ms = Math.round(performance.now() - started);
    // The issue's 2 s is the bench's figure (`npm run bench -- --only fleet_task`), on a quiet machine; this bound
    // only catches a write per child.
    expect(ms).toBeLessThan(15_000);
    const parent = await getTask(parentId);
    expect(parent.fleet).toMatchObject({ total: n, counts: { pending: n * 0.75, skipped_offline: n / 4 } });
    const rows = await db.selectFrom('tasks').select(['held', 'status']).where('parent_id', '=', parentId).execute();
    expect(rows).toHaveLength(n);
    expect(rows.filter((r) => r.status === 'pending' && !r.held)).toHaveLength(100);
    const events = await db.selectFrom('events').select([sql<string>`type`.as('type'), sql<number>`count(*)::int`.as('n')])
      .where(sql<boolean>`data->>'parent_id' = ${parentId}`).groupBy('type').orderBy('type').execute();
    expect(events).toEqual([{ type: 'task.cancelled', n: n / 4 }, { type: 'task.created', n }]);
  }, 60_000);
});

describe('the SDK on a fleet task', () => {
  it('waits for the parent with progress callbacks while agents run its children, and walks the children', async () => {
    const opsdeck = createOpsdeckClient({ baseUrl: server.url, token: server.adminToken, retries: false });
    const hosts = await enrol(4);
    const accepted = await unwrap(opsdeck.POST('/api/v1/tasks', { body: { action: { type: 'reboot' }, target: { agent_ids: hosts.map((h) => h.id) }, concurrency: 2 } }));
    const kids = [];
    for await (const child of taskChildren(opsdeck, accepted.task_id, { limit: 3 })) kids.push(child);
    expect(kids.map((k) => k.agent_id)).toEqual(hosts.map((h) => h.id));
    const seen: number[] = [];
    const waiting = waitForTask(opsdeck, accepted.task_id, { intervalMs: 20, onProgress: (t) => seen.push(t.progress) });
    for (let round = 0; round < 2; round += 1) {
      for (const { host, tasks } of await claimAll(hosts)) await asAgent(host).report(tasks[0]!.id, { status: 'succeeded' });
    }
    const done = await waiting;
    expect(done).toMatchObject({ status: 'succeeded', fleet: { counts: { succeeded: 4 } } });
    expect(seen[0]).toBe(0);
    expect(seen.at(-1)).toBe(100);
  });
});

describe('targets', () => {
  it('resolves a filter within the team only: another team’s matching agents are neither counted nor named', async () => {
    const prefix = `filter-${randomUUID().slice(0, 8)}`;
    const ours = await enrol(3, prefix);
    const theirs = await enrol(2, prefix, { teamId: outsiderTeam, token: outsider.token });
    const parentId = await createFleet({ target: { filter: { search: prefix, platform: 'linux' } } });
    const parent = await getTask(parentId);
    expect(parent.fleet.total).toBe(3);
    const kids = await children(parentId);
    expect(new Set(kids.map((k) => k.agent_id))).toEqual(new Set(ours.map((h) => h.id)));
    expect(JSON.stringify(parent) + JSON.stringify(kids)).not.toContain(theirs[0]!.id);
    // The outsider sees none of it.
    expect((await http(server.url, 'GET', `/api/v1/tasks/${parentId}`, { headers: bearer(outsider.token) })).status).toBe(404);
    const theirList = await http(server.url, 'GET', `/api/v1/tasks?parent_id=${parentId}`, { headers: bearer(outsider.token) });
    expect(theirList.body.data).toEqual([]);
    // Nothing for their agents to claim.
    expect(await asAgent(theirs[0]!).heartbeat()).toBe(0);
  });

  it('refuses another team’s agent in agent_ids exactly as an id of no agent, naming only its position', async () => {
    const [mine] = await enrol(1);
    const [theirs] = await enrol(1, undefined, { teamId: outsiderTeam, token: outsider.token });
    const other = await server.call('POST', '/api/v1/tasks', { json: { action: reboot, target: { agent_ids: [mine!.id, theirs!.id] } } });
    const missing = await server.call('POST', '/api/v1/tasks', { json: { action: reboot, target: { agent_ids: [mine!.id, randomUUID()] } } });
    for (const res of [other, missing]) {
      expect(res.status, res.text).toBe(422);
      expect(res.body.error.code).toBe('BIZ_AGENT_NOT_IN_TEAM');
      expect(res.body.error.details).toEqual([{ field: 'target.agent_ids.1', message: "not an agent of the task's team" }]);
    }
    expect(other.text).not.toContain(theirs!.id);
    expect(other.body.error.message).toBe(missing.body.error.message);
    // And nothing was created.
    expect((await server.call('GET', `/api/v1/agents/${mine!.id}/tasks`)).body.data).toEqual([]);
  });

  it('answers 404 for another team’s group, 422 for an empty one', async () => {
    const theirGroup = await http(server.url, 'POST', '/api/v1/agent-groups', { json: { name: `theirs ${randomUUID()}` }, headers: bearer(outsider.token) });
    expect(theirGroup.status).toBe(201);
    const res = await server.call('POST', '/api/v1/tasks', { json: { action: reboot, target: { group_id: theirGroup.body.data.id } } });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('RES_NOT_FOUND');
    const empty = await server.call('POST', '/api/v1/tasks', { json: { action: reboot, target: { group_id: await newGroup([]) } } });
    expect(empty.status).toBe(422);
    expect(empty.body.error.code).toBe('BIZ_FLEET_TARGET_EMPTY');
  });

  it('skips offline agents as cancelled children counted skipped_offline, or queues them when asked', async () => {
    const [online] = await enrol(1);
    const offline = await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'offline' }) });
    expect(offline.status).toBe(201);
    const target = { agent_ids: [online!.id, offline.body.data.id] };
    const skipping = await createFleet({ target });
    expect((await getTask(skipping)).fleet.counts).toMatchObject({ pending: 1, skipped_offline: 1, cancelled: 0 });
    const skipped = (await children(skipping)).find((k) => k.agent_id === offline.body.data.id)!;
    expect(skipped).toMatchObject({ status: 'cancelled', queued_offline: false });
    expect(skipped.error).toMatch(/^BIZ_AGENT_OFFLINE: /);
    const [task] = await asAgent(online!).claim();
    await asAgent(online!).report(task!.id, { status: 'succeeded' });
    expect(await getTask(skipping)).toMatchObject({ status: 'succeeded', fleet: { counts: { succeeded: 1, skipped_offline: 1 } } });

    const queueing = await createFleet({ target, queue_if_offline: true });
    expect((await getTask(queueing)).fleet.counts).toMatchObject({ pending: 2, skipped_offline: 0 });
    expect((await children(queueing)).find((k) => k.agent_id === offline.body.data.id)).toMatchObject({ status: 'pending', queued_offline: true });
  });

  it('replays a create sent again with the same Idempotency-Key: one fleet task, not two', async () => {
    const hosts = await enrol(2);
    const body = { action: reboot, target: { agent_ids: hosts.map((h) => h.id) } };
    const headers = { 'idempotency-key': randomUUID() };
    const first = await server.call('POST', '/api/v1/tasks', { json: body, headers });
    const again = await server.call('POST', '/api/v1/tasks', { json: body, headers });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.data.task_id).toBe(first.body.data.task_id);
    const fleetTasks = await server.call('GET', `/api/v1/agents/${hosts[0]!.id}/tasks`);
    expect(fleetTasks.body.data).toHaveLength(1);
  });

  it('finishes at once, succeeded, when every agent is offline and none is queued', async () => {
    const offline = await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'offline' }) });
    const parentId = await createFleet({ target: { agent_ids: [offline.body.data.id] } });
    expect(await getTask(parentId)).toMatchObject({ status: 'succeeded', progress: 100, fleet: { total: 1, counts: { skipped_offline: 1, pending: 0 } } });
  });
});

describe('bad bodies', () => {
  const id = () => randomUUID();
  it.each([
    ['no target', { action: reboot }],
    ['two targets', { action: reboot, target: { group_id: id(), agent_ids: [id()] } }],
    ['an empty target', { action: reboot, target: {} }],
    ['no agent ids', { action: reboot, target: { agent_ids: [] } }],
    ['an agent twice', { action: reboot, target: { agent_ids: ['0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d', '0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d'] } }],
    ['concurrency 0', { action: reboot, target: { group_id: id() }, concurrency: 0 }],
    ['concurrency 1001', { action: reboot, target: { group_id: id() }, concurrency: 1001 }],
    ['a threshold over 100', { action: reboot, target: { group_id: id() }, failure_threshold_percent: 101 }],
    ['an unknown filter', { action: reboot, target: { filter: { tag: 'prod' } } }],
    ['an unknown action type', { action: { type: 'dance' }, target: { group_id: id() } }],
    ['no action', { target: { group_id: id() } }],
  ])('refuses %s with 422', async (_label, body) => {
    const res = await server.call('POST', '/api/v1/tasks', { json: body });
    expect(res.status, res.text).toBe(422);
    expect(res.body.success).toBe(false);
  });

  it('refuses an update_agent action without its version, naming the field', async () => {
    const [host] = await enrol(1);
    const res = await server.call('POST', '/api/v1/tasks', { json: { action: { type: 'update_agent', parameters: {} }, target: { agent_ids: [host!.id] } } });
    expect(res.status, res.text).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'VAL_REQUIRED_FIELD', details: [{ field: 'action.parameters.version' }] });
  });
});

describe('templates', () => {
  it('runs a template on every agent: its action and defaults with the given parameters, its version recorded on parent and children', async () => {
    const hosts = await enrol(2);
    const template = await newTemplate();
    const parentId = await createFleet({ template: { id: template.id, parameters: { reason: 'rolling restart' } }, target: { agent_ids: hosts.map((h) => h.id) } });
    const parent = await getTask(parentId);
    expect(parent).toMatchObject({ type: 'command', template_id: template.id, template_version: 1, parameters: { command: 'systemctl', args: ['restart', 'nginx'], reason: 'rolling restart' } });
    const kids = await server.call('GET', `/api/v1/tasks?parent_id=${parentId}`);
    for (const kid of kids.body.data) expect(kid).toMatchObject({ type: 'command', template_id: template.id, template_version: 1, parameters: parent.parameters });
    // One agent's task from the template too.
    const own = await server.call('POST', `/api/v1/agents/${hosts[0]!.id}/tasks`, { json: { template: { id: template.id, parameters: { reason: 'just this one' } } } });
    expect(own.status, own.text).toBe(202);
    expect(await getTask(own.body.data.task_id)).toMatchObject({ kind: 'agent', template_id: template.id, template_version: 1, parameters: { reason: 'just this one' } });
  });

  it("refuses parameters the template's schema refuses (422, per field), another team's template (404), and both action and template", async () => {
    const [host] = await enrol(1);
    const template = await newTemplate();
    const target = { agent_ids: [host!.id] };
    const bad = await server.call('POST', '/api/v1/tasks', { json: { template: { id: template.id, parameters: { reason: 'no' } }, target } });
    expect(bad.status, bad.text).toBe(422);
    expect(bad.body.error.details.map((d: { field: string }) => d.field)).toEqual(['template.parameters.reason']);
    const theirs = await newTemplate({ token: outsider.token });
    const other = await server.call('POST', '/api/v1/tasks', { json: { template: { id: theirs.id, parameters: { reason: 'hello' } }, target } });
    expect(other.status).toBe(404);
    const both = await server.call('POST', '/api/v1/tasks', { json: { action: reboot, template: { id: template.id }, target } });
    expect(both.status).toBe(422);
    expect((await server.call('GET', `/api/v1/agents/${host!.id}/tasks`)).body.data).toEqual([]);
  });
});

describe("an agent's tasks", () => {
  it('lists its own and its fleet children with the filters of listTasks, and creates one for it', async () => {
    const [host] = await enrol(1);
    const created = await server.call('POST', `/api/v1/agents/${host!.id}/tasks`, { json: { action: { type: 'command', parameters: { command: 'uptime' } } } });
    expect(created.status, created.text).toBe(202);
    expect(created.headers.get('location')).toBe(created.body.data.status_url);
    const parentId = await createFleet({ target: { agent_ids: [host!.id] } });

    const all = await server.call('GET', `/api/v1/agents/${host!.id}/tasks`);
    expect(all.status).toBe(200);
    expect(all.body.data).toHaveLength(2);
    expect(all.body.data.find((t: { id: string }) => t.id === created.body.data.task_id)).toMatchObject({
      kind: 'agent',
      parent_id: null,
      type: 'command',
      parameters: { command: 'uptime', args: [], timeout_seconds: 300 },
    });
    const kids = await server.call('GET', `/api/v1/agents/${host!.id}/tasks?parent_id=${parentId}&fields=id,parent_id,kind`);
    expect(kids.body.data).toEqual([{ id: expect.any(String), parent_id: parentId, kind: 'agent' }]);
    const fleet = await server.call('GET', `/api/v1/tasks?kind=fleet&limit=100`);
    expect(fleet.body.data.map((t: { id: string }) => t.id)).toContain(parentId);
    expect(fleet.body.data.every((t: { kind: string }) => t.kind === 'fleet')).toBe(true);
  });

  it("answers 404 for another team's agent, and 409 for an offline one unless queued", async () => {
    const [theirs] = await enrol(1, undefined, { teamId: outsiderTeam, token: outsider.token });
    expect((await server.call('GET', `/api/v1/agents/${theirs!.id}/tasks`)).status).toBe(404);
    expect((await server.call('POST', `/api/v1/agents/${theirs!.id}/tasks`, { json: { action: reboot } })).status).toBe(404);
    const offline = await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'offline' }) });
    const refused = await server.call('POST', `/api/v1/agents/${offline.body.data.id}/tasks`, { json: { action: reboot } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('BIZ_AGENT_OFFLINE');
    const queued = await server.call('POST', `/api/v1/agents/${offline.body.data.id}/tasks`, { json: { action: reboot, queue_if_offline: true } });
    expect(queued.status).toBe(202);
  });
});

describe('the simulator', () => {
  const run = promisify(execFile);
  const sim = (args: string[]) =>
    run(process.execPath, ['--conditions=opsdeck-source', 'scripts/agent-sim.ts', '--url', server.url, ...args], { timeout: 60_000, env: { ...process.env } });

  it('runs a fleet task on a group of simulated agents to the end, with correct counts', async () => {
    const agents = 12;
    const dir = mkdtempSync(join(tmpdir(), 'opsdeck-fleet-sim-'));
    try {
      const token = await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name: 'sim', max_uses: agents } });
      const file = join(dir, 'agents.json');
      // Enrol only (no activity), then put the agents in a group and run a fleet task on it.
      await sim(['--agents', String(agents), '--token', token.body.data.secret, '--save-agents', file, '--heartbeat-s', '0', '--claim-s', '0', '--metrics-s', '0', '--duration', '1']);
      const enrolled = JSON.parse(readFileSync(file, 'utf8')) as Array<{ id: string }>;
      expect(enrolled).toHaveLength(agents);
      const groupId = await newGroup(enrolled.map((a) => a.id));
      const template = await newTemplate();
      const parentId = await createFleet({ template: { id: template.id, parameters: { reason: 'simulated rollout' } }, target: { group_id: groupId }, concurrency: 4 });
      const { stdout } = await sim(['--agents-file', file, '--agents', String(agents), '--execute', '--claim-s', '1', '--heartbeat-s', '0', '--metrics-s', '0', '--duration', '8']);
      const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
      expect(summary.claim.claimed).toBe(agents);
      expect(summary.report).toMatchObject({ executed: agents, errors: 0 });
      const done = await getTask(parentId);
      expect(done).toMatchObject({ status: 'succeeded', progress: 100, template_id: template.id, template_version: 1, type: 'command' });
      expect(done.fleet.counts).toEqual({ pending: 0, running: 0, succeeded: agents, failed: 0, cancelled: 0, skipped_offline: 0 });
      expect((await children(parentId)).every((k) => k.status === 'succeeded')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
