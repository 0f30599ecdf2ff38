// Task schedules over HTTP: CRUD with unique names per team, merge patch and If-Match, 422 for a cron expression or
// time zone croner cannot use (naming the field), tenancy (another team's schedule is 404), permissions, next due
// times in a zone with daylight saving time, the switch that stops firing, exactly one execution per due time with
// two server processes on one database, and the missed-run policies (skip, run once) when a server starts late.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { fireDueSchedules } from '../../server/modules/task-schedules/task-schedules.scheduler.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { startChildServer, type ChildServer } from '../support/child-server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createOutsider, createUser, type TestUser } from '../support/identity.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const TICK_MS = '100';

let server: TestServer;
let outsider: TestUser;
let agentId: string;

beforeAll(async () => {
  server = await startTestServer({ SCHEDULER_TICK_MS: TICK_MS });
  ({ outsider } = await createOutsider(server.url, server.adminToken));
  const agent = await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'online' }) });
  expect(agent.status, agent.text).toBe(201);
  agentId = agent.body.data.id;
}, 60_000);
afterAll(async () => {
  await server?.close();
});

let serial = 0;
const scheduleName = (label = 'schedule') => `${label} ${(serial += 1)} ${Math.random().toString(36).slice(2, 8)}`;
const run = () => ({ action: { type: 'command', parameters: { command: 'uptime' } }, target: { agent_ids: [agentId] } });

interface Execution {
  id: string;
  schedule_id: string;
  due_at: string;
  fired_at: string;
  task_id: string | null;
  status: 'fired' | 'skipped_missed' | 'failed';
  missed: boolean;
  error: string | null;
}

async function newSchedule(body: Record<string, unknown> = {}, on: TestServer = server) {
  const res = await on.call('POST', '/api/v1/tasks/schedules', { json: { name: scheduleName(), cron: '0 3 * * SUN', timezone: 'Europe/Berlin', run: run(), ...body } });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string; name: string; enabled: boolean; next_runs: string[]; last_execution: Execution | null; updated_at: string };
}

async function executionsOf(id: string, on: TestServer = server): Promise<Execution[]> {
  const res = await on.call('GET', `/api/v1/tasks/schedules/${id}/executions?sort=due_at:asc&limit=100`);
  expect(res.status, res.text).toBe(200);
  return res.body.data;
}

/** Each execution links to its own fleet-wide parent task, with one child on the schedule's agent, created by the schedule's creator. */
async function expectParentTasks(executions: Execution[], on: TestServer = server): Promise<void> {
  const ids = executions.map((e) => e.task_id);
  expect(new Set(ids).size).toBe(ids.length);
  const creator = (await on.call('GET', '/api/v1/auth/profile')).body.data.id;
  for (const id of ids) {
    expect(id).toEqual(expect.any(String));
    const task = await on.call('GET', `/api/v1/tasks/${id}`);
    expect(task.status, task.text).toBe(200);
    expect(task.body.data).toMatchObject({ id, kind: 'fleet', agent_id: null, type: 'command', created_by: creator, fleet: { total: 1 } });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The wall-clock fields of an instant in a zone, as Intl (not croner) reads them. */
function localTime(iso: string, timeZone: string): { day: string; hour: string; minute: string; weekday: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', weekday: 'short' })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  return { day: `${parts.year}-${parts.month}-${parts.day}`, hour: parts.hour!, minute: parts.minute!, weekday: parts.weekday! };
}

describe('task schedule CRUD', () => {
  it('creates (201 + Location), reads with an ETag, lists, patches and deletes; the literal path stands beside task ids', async () => {
    const created = await server.call('POST', '/api/v1/tasks/schedules', {
      json: { name: 'Nightly uptime', description: 'Who is up', cron: '30 2 * * *', timezone: 'UTC', run: run() },
    });
    expect(created.status, created.text).toBe(201);
    const schedule = created.body.data;
    expect(created.headers.get('location')).toBe(`/api/v1/tasks/schedules/${schedule.id}`);
    expect(schedule).toMatchObject({
      team_id: server.teamId,
      name: 'Nightly uptime',
      description: 'Who is up',
      cron: '30 2 * * *',
      timezone: 'UTC',
      enabled: true,
      missed_runs: 'skip',
      run: run(),
      last_execution: null,
    });
    expect(schedule.next_runs).toHaveLength(5);
    for (const due of schedule.next_runs) expect(due).toMatch(/T02:30:00\.000Z$/);

    const fetched = await server.call('GET', `/api/v1/tasks/schedules/${schedule.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.data).toEqual(schedule);
    const etag = fetched.headers.get('etag')!;
    expect(etag).toBeTruthy();
    expect((await server.call('GET', `/api/v1/tasks/schedules/${schedule.id}`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const listed = await server.call('GET', '/api/v1/tasks/schedules?fields=name,next_runs&limit=100');
    expect(listed.status).toBe(200);
    const item = listed.body.data.find((s: { id: string }) => s.id === schedule.id);
    expect(Object.keys(item).sort()).toEqual(['id', 'name', 'next_runs']);
    // A task id still reaches getTask: the literal segment does not swallow it, nor the other way round.
    expect((await server.call('GET', '/api/v1/tasks/0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f')).body.error.code).toBe('RES_NOT_FOUND');

    const stale = await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: { name: 'Renamed' }, headers: { 'if-match': '"stale"' } });
    expect(stale.status).toBe(412);
    const patched = await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, {
      json: { description: null, cron: '0 4 * * *', missed_runs: 'run_once' },
      headers: { 'if-match': etag, 'content-type': 'application/merge-patch+json' },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.data).toMatchObject({ name: 'Nightly uptime', description: null, cron: '0 4 * * *', missed_runs: 'run_once' });
    for (const due of patched.body.data.next_runs) expect(due).toMatch(/T04:00:00\.000Z$/);
    // An empty merge patch changes nothing.
    expect((await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: {} })).body.data).toEqual(patched.body.data);

    expect((await server.call('DELETE', `/api/v1/tasks/schedules/${schedule.id}`, { headers: { 'if-match': etag } })).status).toBe(412);
    expect((await server.call('DELETE', `/api/v1/tasks/schedules/${schedule.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/tasks/schedules/${schedule.id}`)).status).toBe(404);
    expect((await server.call('GET', `/api/v1/tasks/schedules/${schedule.id}/executions`)).status).toBe(404);
    expect((await server.call('DELETE', `/api/v1/tasks/schedules/${schedule.id}`)).status).toBe(404);
  });

  it('keeps names unique per team regardless of case (409)', async () => {
    const first = await newSchedule();
    const dup = await server.call('POST', '/api/v1/tasks/schedules', { json: { name: first.name.toUpperCase(), cron: '* * * * *', timezone: 'UTC', run: run() } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('RES_ALREADY_EXISTS');
  });

  it('lists by offset and by cursor, sorted by name or creation, filtered by enabled', async () => {
    const prefix = `Paged ${Math.random().toString(36).slice(2, 8)}`;
    const made: { id: string }[] = [];
    for (const letter of ['c', 'A', 'b']) made.push(await newSchedule({ name: `${prefix} ${letter}`, enabled: letter !== 'b' }));
    const mine = (rows: { name: string }[]) => rows.filter((s) => s.name.startsWith(prefix)).map((s) => s.name.slice(-1));
    const byName = await server.call('GET', '/api/v1/tasks/schedules?limit=100');
    expect(mine(byName.body.data)).toEqual(['A', 'b', 'c']);
    expect(byName.body.pagination.mode).toBe('offset');
    const enabledOnly = await server.call('GET', '/api/v1/tasks/schedules?limit=100&enabled=false');
    expect(mine(enabledOnly.body.data)).toEqual(['b']);
    expect(enabledOnly.body.data.find((s: { name: string }) => s.name === `${prefix} b`).next_runs).toEqual([]);

    const walked: string[] = [];
    let cursor = '';
    for (let i = 0; i < 50; i += 1) {
      const page = await server.call('GET', `/api/v1/tasks/schedules?limit=2&sort=created_at:desc&cursor=${encodeURIComponent(cursor)}`);
      expect(page.status, page.text).toBe(200);
      walked.push(...page.body.data.map((s: { id: string }) => s.id));
      if (!page.body.pagination.next_cursor) break;
      cursor = page.body.pagination.next_cursor;
    }
    expect(walked.filter((id) => made.some((m) => m.id === id))).toEqual(made.map((m) => m.id).reverse());
  });

  it('refuses a cron expression or a time zone croner cannot use with 422, naming the field', async () => {
    const refused = async (body: Record<string, unknown>, field: string) => {
      const res = await server.call('POST', '/api/v1/tasks/schedules', { json: { name: scheduleName(), cron: '0 * * * *', timezone: 'UTC', run: run(), ...body } });
      expect(res.status, res.text).toBe(422);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      return res.body.error;
    };
    expect((await refused({ cron: 'every day at noon' }, 'cron')).code).toBe('VAL_INVALID_FORMAT');
    await refused({ cron: '61 * * * *' }, 'cron');
    await refused({ cron: '0 0 * * * * *' }, 'cron');
    await refused({ cron: '0 0 30 2 *' }, 'cron');
    expect((await refused({ timezone: 'Mars/Olympus' }, 'timezone')).code).toBe('VAL_INVALID_FORMAT');
    await refused({ timezone: '+01:00' }, 'timezone');
    const schedule = await newSchedule();
    const patch = await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: { cron: '* * 32 * *' } });
    expect(patch.status).toBe(422);
    expect(patch.body.error.details[0]).toMatchObject({ field: 'cron', value: '* * 32 * *' });
    const zone = await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: { timezone: 'Europe/Atlantis' } });
    expect(zone.status).toBe(422);
    expect(zone.body.error.details[0]).toMatchObject({ field: 'timezone' });
    expect((await server.call('GET', `/api/v1/tasks/schedules/${schedule.id}`)).body.data.cron).toBe('0 3 * * SUN');
  });

  it('answers 404 for another team’s schedule, and lists only the caller’s teams’ schedules', async () => {
    const schedule = await newSchedule();
    const as = (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: bearer(outsider.token), ...(json ? { json } : {}) });
    for (const [method, path, json] of [
      ['GET', `/api/v1/tasks/schedules/${schedule.id}`],
      ['PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { enabled: false }],
      ['DELETE', `/api/v1/tasks/schedules/${schedule.id}`],
      ['GET', `/api/v1/tasks/schedules/${schedule.id}/executions`],
    ] as const) {
      const res = await as(method, path, json);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('RES_NOT_FOUND');
    }
    const theirs = await as('GET', '/api/v1/tasks/schedules?limit=100');
    expect(theirs.body.data.map((s: { id: string }) => s.id)).not.toContain(schedule.id);
    expect((await server.call('GET', `/api/v1/tasks/schedules/${schedule.id}`)).body.data.enabled).toBe(true);
  });

  it('lets a viewer read (tasks:read) but not write (tasks:execute)', async () => {
    const schedule = await newSchedule();
    const viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId]);
    expect((await http(server.url, 'GET', `/api/v1/tasks/schedules/${schedule.id}`, { headers: bearer(viewer.token) })).status).toBe(200);
    expect((await http(server.url, 'GET', `/api/v1/tasks/schedules/${schedule.id}/executions`, { headers: bearer(viewer.token) })).status).toBe(200);
    const write = await http(server.url, 'POST', '/api/v1/tasks/schedules', { headers: bearer(viewer.token), json: { name: scheduleName(), cron: '* * * * *', timezone: 'UTC', run: run() } });
    expect(write.status).toBe(403);
    expect(write.body.error.code).toBe('PERM_DENIED');
    expect((await http(server.url, 'DELETE', `/api/v1/tasks/schedules/${schedule.id}`, { headers: bearer(viewer.token) })).status).toBe(403);
  });

  it('audits its writes', async () => {
    const schedule = await newSchedule();
    await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: { enabled: false } });
    const audit = await waitFor('the audit records', async () => {
      const res = await server.call('GET', `/api/v1/admin/audit?limit=100`);
      const ops = res.body.data.filter((e: { target_id: string | null }) => e.target_id === schedule.id).map((e: { operation_id: string }) => e.operation_id);
      return ops.includes('updateTaskSchedule') && ops.includes('createTaskSchedule') ? ops : undefined;
    });
    expect(audit).toEqual(expect.arrayContaining(['createTaskSchedule', 'updateTaskSchedule']));
  });
});

describe('due times', () => {
  it('lists the next five due times in the schedule’s zone, daylight saving time included', async () => {
    const zone = 'America/New_York';
    const schedule = await newSchedule({ cron: '0 9 * * MON-FRI', timezone: zone });
    expect(schedule.next_runs).toHaveLength(5);
    const local = schedule.next_runs.map((due) => localTime(due, zone));
    for (const time of local) {
      expect([time.hour, time.minute]).toEqual(['09', '00']);
      expect(['Mon', 'Tue', 'Wed', 'Thu', 'Fri']).toContain(time.weekday);
    }
    expect(new Set(local.map((t) => t.day)).size).toBe(5);
    const instants = schedule.next_runs.map((due) => Date.parse(due));
    expect(instants).toEqual([...instants].sort((a, b) => a - b));
    expect(instants[0]!).toBeGreaterThan(Date.now());
    // Nine in New York is 13:00 or 14:00 UTC, by the season: never the UTC reading of the expression.
    for (const due of schedule.next_runs) expect(['13', '14']).toContain(due.slice(11, 13));
    // The same expression in UTC is due at 09:00Z.
    const utc = await newSchedule({ cron: '0 9 * * MON-FRI', timezone: 'UTC' });
    for (const due of utc.next_runs) expect(due.slice(11, 19)).toBe('09:00:00');
  });

  it('fires every due time once, and stops when disabled', async () => {
    const schedule = await newSchedule({ cron: '* * * * * *', timezone: 'UTC' });
    await waitFor('two executions', async () => ((await executionsOf(schedule.id)).length >= 2 ? true : undefined));
    const off = await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: { enabled: false } });
    expect(off.status).toBe(200);
    expect(off.body.data.next_runs).toEqual([]);
    const before = await executionsOf(schedule.id);
    await sleep(2_500);
    const after = await executionsOf(schedule.id);
    expect(after).toEqual(before);
    const due = after.map((e) => Date.parse(e.due_at));
    for (let i = 1; i < due.length; i += 1) expect(due[i]! - due[i - 1]!).toBe(1000);
    for (const execution of after) expect(execution).toMatchObject({ schedule_id: schedule.id, status: 'fired', missed: false, error: null });
    await expectParentTasks(after);
    expect(off.body.data.last_execution).toEqual(after.at(-1));

    // Enabled again, it goes on from now: the due times it was off for are not fired late.
    const on = await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: { enabled: true } });
    expect(Date.parse(on.body.data.next_runs[0])).toBeGreaterThan(Date.parse(after.at(-1)!.due_at) + 2_000);
    await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: { enabled: false } });
  });

  it('records one execution for a due time that many schedulers race for', async () => {
    const schedule = await newSchedule({ cron: '0 0 1 1 *', timezone: 'UTC' });
    const due = new Date(Date.now() - 1000);
    due.setUTCMilliseconds(0);
    await sql`update task_schedules set next_due_at = ${due} where id = ${schedule.id}`.execute(server.database.db);
    const log = createLogger('silent');
    const results = await Promise.all(Array.from({ length: 8 }, () => fireDueSchedules(server.database.db, log, { graceMs: 60_000, now: new Date(due.getTime() + 500) })));
    expect(results.reduce((n, r) => n + r.fired, 0)).toBeLessThanOrEqual(1);
    const executions = (await executionsOf(schedule.id)).filter((e) => e.due_at === due.toISOString());
    expect(executions).toHaveLength(1);
    const now = await server.call('GET', `/api/v1/tasks/schedules/${schedule.id}`);
    expect(now.body.data.next_runs[0]).toMatch(/-01-01T00:00:00\.000Z$/);
  });
});

describe('firings that cannot create their task', () => {
  it('record a failed execution with the reason, and the schedule goes on', async () => {
    const group = await server.call('POST', '/api/v1/agent-groups', { json: { name: scheduleName('empty group') } });
    const schedule = await newSchedule({ cron: '* * * * * *', timezone: 'UTC', run: { action: { type: 'reboot' }, target: { group_id: group.body.data.id } } });
    const failed = await waitFor('two failed executions', async () => {
      const rows = await executionsOf(schedule.id);
      return rows.length >= 2 ? rows : undefined;
    });
    await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: { enabled: false } });
    for (const execution of failed) {
      expect(execution).toMatchObject({ status: 'failed', task_id: null, missed: false });
      expect(execution.error).toMatch(/matches no agent/);
    }
    const onlyFailed = await server.call('GET', `/api/v1/tasks/schedules/${schedule.id}/executions?status=failed&limit=1`);
    expect(onlyFailed.body.pagination.total).toBeGreaterThanOrEqual(2);
    expect(onlyFailed.body.data).toHaveLength(1);
  });

  it('refuses a run that names another team than the schedule’s', async () => {
    const res = await server.call('POST', '/api/v1/tasks/schedules', {
      json: { name: scheduleName(), cron: '0 * * * *', timezone: 'UTC', run: { ...run(), team_id: '0192f0a0-0000-7000-8000-00000000000a' } },
    });
    expect(res.status, res.text).toBe(422);
    expect(res.body.error.details[0]).toMatchObject({ field: 'run.team_id' });
  });
});

describe('two server processes on one database', () => {
  let child: ChildServer | undefined;
  afterAll(() => {
    child?.process.kill('SIGKILL');
  });

  it('fire each due time of a schedule exactly once, none missing', async (context) => {
    if (!server.testDatabase.url || !server.redis) return context.skip();
    child = await startChildServer({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: server.testDatabase.url,
      ...(server.testDatabase.transactionPooling ? { DATABASE_TRANSACTION_POOLING: 'true' } : {}),
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: server.redisKeyPrefix,
      OPSDECK_DEMO_DATA: 'false',
      BACKGROUND_WORKERS: 'true',
      SCHEDULER_TICK_MS: TICK_MS,
    });
    const schedule = await newSchedule({ cron: '*/2 * * * * *', timezone: 'UTC', missed_runs: 'run_once' });
    await sleep(8_000);
    await server.call('PATCH', `/api/v1/tasks/schedules/${schedule.id}`, { json: { enabled: false } });
    const executions = await executionsOf(schedule.id);
    const due = executions.map((e) => Date.parse(e.due_at));
    expect(executions.length).toBeGreaterThanOrEqual(3);
    expect(new Set(due).size).toBe(due.length);
    for (const time of due) expect(time % 2000).toBe(0);
    for (let i = 1; i < due.length; i += 1) expect(due[i]! - due[i - 1]!).toBe(2000);
    // The first due time is the first after creation: none was skipped at the start.
    expect(executions[0]!.due_at).toBe(schedule.next_runs[0]);
    for (const execution of executions) expect(execution).toMatchObject({ status: 'fired', missed: false, error: null });
    await expectParentTasks(executions);
    expect(child.process.exitCode).toBeNull();
  }, 40_000);
});

describe('runs missed while no server ran', () => {
  let quiet: TestServer;
  let late: RunningServer | undefined;
  beforeAll(async () => {
    // A server without background workers: nothing fires while the due times pass.
    quiet = await startTestServer({ BACKGROUND_WORKERS: 'false' });
  }, 60_000);
  afterAll(async () => {
    await late?.stop();
    await quiet?.close();
  });

  it('skip records one skipped_missed execution; run_once fires once for the latest missed due time; both go on from now', async (context) => {
    if (!quiet.testDatabase.url) return context.skip();
    const agent = await quiet.call('POST', '/api/v1/agents', { json: newAgent({ status: 'online' }) });
    const body = { cron: '0 * * * *', timezone: 'Asia/Kolkata', run: { ...run(), target: { agent_ids: [agent.body.data.id] } } };
    const skip = await newSchedule({ ...body, missed_runs: 'skip' }, quiet);
    const once = await newSchedule({ ...body, missed_runs: 'run_once' }, quiet);
    // Three and a half hours of due times pass with no scheduler running (Kolkata is UTC+05:30: due at hh:30Z).
    const since = new Date(Date.parse(skip.next_runs[0]!) - 4 * 3_600_000);
    await sql`update task_schedules set next_due_at = ${since} where id in (${skip.id}, ${once.id})`.execute(quiet.database.db);

    const started = Date.now();
    const config = loadConfig({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: quiet.testDatabase.url,
      ...(quiet.testDatabase.transactionPooling ? { DATABASE_TRANSACTION_POOLING: 'true' } : {}),
      OPSDECK_DEMO_DATA: 'false',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      SCHEDULER_TICK_MS: TICK_MS,
    });
    late = await startServer(config, createLogger(config.logLevel));
    const latestMissed = new Date(Date.parse(skip.next_runs[0]!) - 3_600_000).toISOString();

    const skipped = await waitFor('the skip execution', async () => {
      const rows = await executionsOf(skip.id, quiet);
      return rows.length > 0 ? rows : undefined;
    });
    const fired = await waitFor('the run_once execution', async () => {
      const rows = await executionsOf(once.id, quiet);
      return rows.length > 0 ? rows : undefined;
    });
    await sleep(500);
    expect(await executionsOf(skip.id, quiet)).toEqual(skipped);
    expect(await executionsOf(once.id, quiet)).toEqual(fired);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ due_at: latestMissed, status: 'skipped_missed', missed: true, task_id: null, error: null });
    expect(Date.parse(skipped[0]!.fired_at)).toBeGreaterThanOrEqual(started - 1000);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ due_at: latestMissed, status: 'fired', missed: true, error: null });
    await expectParentTasks(fired, quiet);
    expect((await quiet.call('GET', '/api/v1/tasks?limit=100')).body.data.filter((task: { kind: string }) => task.kind === 'fleet')).toHaveLength(1);
    for (const id of [skip.id, once.id]) {
      const now = await quiet.call('GET', `/api/v1/tasks/schedules/${id}`);
      expect(now.body.data.next_runs[0]).toBe(skip.next_runs[0]);
      expect(now.body.data.last_execution.due_at).toBe(latestMissed);
      // The firing changed what the schedule shows, so it moved updated_at (Last-Modified) as well.
      expect(Date.parse(now.body.data.updated_at)).toBeGreaterThanOrEqual(Date.parse(now.body.data.last_execution.fired_at));
    }
  }, 60_000);
});

describe('a schedule whose creator lost the right to run it', () => {
  // A schedule acts in its creator's name: each case makes an operator of the team, lets it create a schedule that
  // fires every second (and does fire), then takes the right away in one way; the next due times are settled as
  // failed executions carrying the reason, and no task is created in its name.
  const cases: { label: string; revoke: (user: TestUser) => Promise<void>; reason: RegExp }[] = [
    {
      label: 'removed from the team',
      revoke: async (user) => void expect((await server.call('DELETE', `/api/v1/teams/${server.teamId}/members/${user.id}`)).status).toBe(204),
      reason: /no longer a member of the team/,
    },
    {
      label: 'demoted to viewer',
      revoke: async (user) => void expect((await server.call('PATCH', `/api/v1/admin/users/${user.id}`, { json: { role: 'viewer' } })).status).toBe(200),
      reason: /no longer has the permission tasks:execute/,
    },
    {
      label: 'deactivated',
      revoke: async (user) => void expect((await server.call('PATCH', `/api/v1/admin/users/${user.id}`, { json: { active: false } })).status).toBe(200),
      reason: /is deactivated/,
    },
    {
      label: 'deleted',
      revoke: async (user) => void expect((await server.call('DELETE', `/api/v1/admin/users/${user.id}`)).status).toBe(204),
      reason: /no longer exists/,
    },
  ];
  for (const { label, revoke, reason } of cases) {
    it(`skips its runs once the creator is ${label}, recording why`, async () => {
      const operator = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'scheduler');
      const created = await http(server.url, 'POST', '/api/v1/tasks/schedules', {
        headers: bearer(operator.token),
        json: { name: scheduleName(label), cron: '* * * * * *', timezone: 'UTC', run: run() },
      });
      expect(created.status, created.text).toBe(201);
      const id = created.body.data.id as string;
      try {
        await waitFor('a fired execution', async () => ((await executionsOf(id)).some((e) => e.status === 'fired') ? true : undefined));
        await revoke(operator);
        const revokedAt = Date.now();
        const skipped = await waitFor('a skipped execution', async () => (await executionsOf(id)).find((e) => e.status === 'failed' && Date.parse(e.fired_at) >= revokedAt));
        expect(skipped).toMatchObject({ task_id: null, missed: false });
        expect(skipped.error).toMatch(reason);
        expect(skipped.error).toMatch(/^skipped: /);
        // Every execution after the revocation is skipped (none created a task), and the schedule shows the reason.
        await sleep(1_200);
        const later = (await executionsOf(id)).filter((e) => Date.parse(e.fired_at) >= revokedAt + 200);
        expect(later.length).toBeGreaterThan(0);
        for (const execution of later) expect(execution).toMatchObject({ status: 'failed', task_id: null });
        const schedule = await server.call('GET', `/api/v1/tasks/schedules/${id}`);
        expect(schedule.body.data.last_execution.error).toMatch(reason);
      } finally {
        await server.call('PATCH', `/api/v1/tasks/schedules/${id}`, { json: { enabled: false } });
      }
    });
  }
});
