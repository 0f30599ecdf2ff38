// The fleet's steady load, over HTTP on real PostgreSQL and Redis: signs of life (heartbeats, claims, metrics
// reports) of many agents are written in shared batches, yet each answer says what that agent's row holds once
// its write is committed; an offline agent comes back online; an idle agent's claim is empty and a pending task
// is handed out once; concurrent metrics reports are all stored; heartbeats acknowledged just before a graceful
// stop are in the database after it; `npm run agent:sim` drives a small fleet and sums it up.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminDatabaseUrl, createTestDatabase, postgresAnswers, testRedis } from '../support/backends.ts';
import { startChildServer } from '../support/child-server.ts';
import { http, newAgent } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startTcpProxy, throughProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function enrolMany(server: { url: string; call: TestServer['call'] }, teamId: string, n: number): Promise<{ id: string; key: string }[]> {
  const token = (await server.call('POST', `/api/v1/teams/${teamId}/enrollment-tokens`, { json: { name: 'fleet' } })).body.data.secret;
  const agents = [];
  for (let i = 0; i < n; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, n - i) }, () => http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token, ...newAgent() } })),
    );
    for (const r of batch) {
      expect(r.status).toBe(201);
      agents.push({ id: r.body.data.agent.id as string, key: r.body.data.agent_key as string });
    }
  }
  return agents;
}

const asAgent = (key: string) => ({ headers: { 'x-api-key': key } });

describe('signs of life at fleet scale', () => {
  let server: TestServer;
  let agents: { id: string; key: string }[];
  beforeAll(async () => {
    server = await startTestServer();
    agents = await enrolMany(server, server.teamId, 200);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers 200 concurrent heartbeats, each with its own agent; an agent’s first sign of life in a process is written before its answer', async () => {
    const before = Date.now() - 1000; // PostgreSQL's clock and ours may differ by a little
    const answers = await Promise.all(agents.map((a) => http(server.url, 'POST', '/api/v1/agent/heartbeat', asAgent(a.key))));
    expect(answers.map((r) => r.status)).toEqual(agents.map(() => 200));
    answers.forEach((r, i) => {
      expect(r.body.data.agent_id).toBe(agents[i]!.id);
      expect(r.body.data.status).toBe('online');
      expect(r.body.data.pending_tasks).toBe(0);
    });
    const seen = await Promise.all(agents.map((a) => server.call('GET', `/api/v1/agents/${a.id}`)));
    for (const r of seen) expect(Date.parse(r.body.data.last_seen)).toBeGreaterThanOrEqual(before);
  });

  it('answers a known agent at once, even while its row is locked, and writes its last_seen right after', async (ctx) => {
    if (!server.testDatabase.url) return ctx.skip();
    const agent = agents[5]!;
    // Its first sign of life in this process waits for its write; from then on the process knows its answer.
    expect((await http(server.url, 'POST', '/api/v1/agent/heartbeat', asAgent(agent.key))).status).toBe(200);
    const locker = new pg.Client({ connectionString: server.testDatabase.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query(`update agents set last_seen = now() - interval '1 day' where id = $1`, [agent.id]);
      // The row is locked by a transaction that has not committed: a heartbeat that waited for its write could not be answered.
      const beat = await http(server.url, 'POST', '/api/v1/agent/heartbeat', asAgent(agent.key));
      expect(beat.status).toBe(200);
      expect(beat.body.data).toMatchObject({ agent_id: agent.id, status: 'online', pending_tasks: 0 });
      const answeredAt = Date.parse(beat.body.data.server_time);
      await locker.query('commit');
      // Once the lock is gone the write goes through, with the time the heartbeat was received (not the commit's).
      const lastSeen = async () => {
        const { rows } = await sql<{ last_seen: Date }>`select last_seen from agents where id = ${agent.id}`.execute(server.database.db);
        return rows[0]!.last_seen.getTime();
      };
      await expect.poll(lastSeen, { timeout: 5000 }).toBeGreaterThan(Date.now() - 60_000);
      expect(Math.abs((await lastSeen()) - answeredAt)).toBeLessThan(1000);
    } finally {
      await locker.end();
    }
  });

  it('answers from PostgreSQL again once the agent’s work changed: a task created for it, its status changed', async () => {
    const agent = agents[6]!;
    const beat = () => http(server.url, 'POST', '/api/v1/agent/heartbeat', asAgent(agent.key));
    expect((await beat()).body.data.pending_tasks).toBe(0);
    expect((await beat()).body.data.pending_tasks).toBe(0);
    // Written by SQL, as another process or psql would: the change feed (kind agent_work) tells this process within 1 s.
    await sql`insert into tasks (id, team_id, agent_id, type, status, parameters, created_by)
              select gen_random_uuid(), team_id, id, 'reboot', 'pending', '{}'::jsonb, null from agents where id = ${agent.id}`.execute(server.database.db);
    await expect.poll(async () => (await beat()).body.data.pending_tasks, { timeout: 3000 }).toBe(1);
    await sql`update agents set status = 'maintenance' where id = ${agent.id}`.execute(server.database.db);
    await expect.poll(async () => (await beat()).body.data.status, { timeout: 3000 }).toBe('maintenance');
  });

  it('brings an offline agent back online with its heartbeat, and its team’s lists show it', async () => {
    const agent = agents[0]!;
    await sql`update agents set status = 'offline', last_seen = now() - interval '1 hour' where id = ${agent.id}`.execute(server.database.db);
    const listed = async () => (await server.call('GET', `/api/v1/agents?status=offline&limit=100`)).body.data.map((a: { id: string }) => a.id);
    await expect.poll(listed, { timeout: 5000 }).toContain(agent.id);
    const beat = await http(server.url, 'POST', '/api/v1/agent/heartbeat', asAgent(agent.key));
    expect(beat.body.data.status).toBe('online');
    // A change made behind the API reaches this process through the change feed (within 1 s); until then the
    // heartbeat may be answered before its write, which follows at once and turns the agent online in the lists.
    await expect.poll(listed, { timeout: 5000 }).not.toContain(agent.id);
    expect((await server.call('GET', `/api/v1/agents/${agent.id}`)).body.data.status).toBe('online');
  });

  it('keeps an operator’s maintenance status through heartbeats', async () => {
    const agent = agents[1]!;
    expect((await server.call('PATCH', `/api/v1/agents/${agent.id}`, { json: { status: 'maintenance' }, headers: { 'content-type': 'application/merge-patch+json' } })).status).toBe(200);
    const beat = await http(server.url, 'POST', '/api/v1/agent/heartbeat', asAgent(agent.key));
    expect(beat.body.data.status).toBe('maintenance');
  });

  it('answers an idle agent’s claim with nothing, and hands a pending task out once among concurrent claims', async () => {
    const agent = agents[2]!;
    const idle = await http(server.url, 'POST', '/api/v1/agent/tasks/claim', { ...asAgent(agent.key), json: { max_tasks: 5 } });
    expect(idle.status).toBe(200);
    expect(idle.body.data).toEqual([]);
    const task = (await server.call('POST', `/api/v1/agents/${agent.id}/actions/reboot`, { json: {} })).body.data;
    const beat = await http(server.url, 'POST', '/api/v1/agent/heartbeat', asAgent(agent.key));
    expect(beat.body.data.pending_tasks).toBe(1);
    const claims = await Promise.all(Array.from({ length: 5 }, () => http(server.url, 'POST', '/api/v1/agent/tasks/claim', { ...asAgent(agent.key), json: { max_tasks: 1 } })));
    const handed = claims.flatMap((r) => r.body.data.map((t: { id: string }) => t.id));
    expect(handed).toEqual([task.task_id]);
  });

  it('stores every sample of concurrent metrics reports from many agents', async () => {
    const at = new Date(Date.now() - 60_000);
    at.setUTCSeconds(0, 0);
    const reports = agents.slice(0, 50).map((a, i) => ({
      agent: a,
      samples: Array.from({ length: 20 }, (_, s) => ({ name: 'cpu_usage', at: new Date(at.getTime() + s * 1000).toISOString(), value: (i + s) % 100 })),
    }));
    const answers = await Promise.all(reports.map((r) => http(server.url, 'POST', '/api/v1/agent/metrics', { ...asAgent(r.agent.key), json: { samples: r.samples } })));
    expect(answers.map((r) => r.status)).toEqual(reports.map(() => 204));
    const { rows } = await sql<{ agent_id: string; n: number; total: number }>`
      select agent_id::text, count(*)::int as n, sum(value)::int as total from agent_metrics
       where agent_id in (${sql.join(reports.map((r) => r.agent.id))}) group by agent_id`.execute(server.database.db);
    expect(rows).toHaveLength(50);
    const expected = new Map(reports.map((r) => [r.agent.id, r.samples.reduce((sum, s) => sum + s.value, 0)]));
    for (const row of rows) {
      expect(row.n).toBe(20);
      expect(row.total).toBe(expected.get(row.agent_id));
    }
  });

  it('refuses the heartbeat of an agent deleted meanwhile with 401, and the others of its batch are unaffected', async () => {
    const [gone, kept] = [agents[3]!, agents[4]!];
    expect((await server.call('DELETE', `/api/v1/agents/${gone.id}`)).status).toBe(204);
    const [a, b] = await Promise.all([gone, kept].map((x) => http(server.url, 'POST', '/api/v1/agent/heartbeat', asAgent(x.key))));
    expect(a!.status).toBe(401);
    expect(b!.status).toBe(200);
  });
});

describe('a graceful stop and the simulator', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let redisUrl: string | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    redisUrl = await testRedis();
  });
  afterAll(async () => {
    await database?.drop();
  });

  const env = () => ({
    DATABASE_URL: database.url!,
    ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `fleet-${process.pid}-${Date.now()}:` } : {}),
    PORT: '0',
    HOST: '127.0.0.1',
    OPSDECK_ADMIN_EMAIL: 'admin@fleet.example.com',
    OPSDECK_ADMIN_PASSWORD: 'fleet-admin-password-1',
    OPSDECK_DEMO_DATA: 'false',
    SHUTDOWN_DELAY_MS: '0',
    RATE_LIMITS: JSON.stringify({ tiers: Object.fromEntries(['anonymous', 'authenticated', 'premium', 'admin'].map((t) => [t, { requests_per_minute: 600_000, burst: 100_000 }])) }),
  });

  it('loses no acknowledged heartbeat across SIGTERM: those answered before their write are written before the pool closes', async (ctx) => {
    if (!database.url) return ctx.skip();
    const child = await startChildServer(env());
    const login = await http(child.url, 'POST', '/api/v1/auth/login', { json: { email: 'admin@fleet.example.com', password: 'fleet-admin-password-1' } });
    const auth = { authorization: `Bearer ${login.body.data.access_token}` };
    const teamId = (await http(child.url, 'POST', '/api/v1/teams', { headers: auth, json: { name: 'Stop' } })).body.data.id;
    const call: TestServer['call'] = (method, path, options) => http(child.url, method, path, { ...options, headers: { ...auth, ...options?.headers } });
    const fleet = await enrolMany({ url: child.url, call }, teamId, 100);
    const db = new pg.Client({ connectionString: database.url });
    const locker = new pg.Client({ connectionString: database.url });
    await Promise.all([db.connect(), locker.connect()]);
    try {
      // One heartbeat each first: from then on the server answers them before their writes (write-behind), and
      // those are what a stop must not lose.
      for (const a of fleet) expect((await http(child.url, 'POST', '/api/v1/agent/heartbeat', asAgent(a.key))).status).toBe(200);
      await db.query(`update agents set last_seen = now() - interval '1 day'`);
      // The first agent's row is locked, so the batch that writes it waits, and the others' batch waits behind it.
      await locker.query('begin');
      await locker.query('select 1 from agents where id = $1 for update', [fleet[0]!.id]);
      const first = await http(child.url, 'POST', '/api/v1/agent/heartbeat', asAgent(fleet[0]!.key));
      expect(first.status).toBe(200);
      const answers = [first, ...(await Promise.all(fleet.slice(1).map((a) => http(child.url, 'POST', '/api/v1/agent/heartbeat', asAgent(a.key)))))];
      expect(answers.map((r) => r.status)).toEqual(fleet.map(() => 200));
      // The stop begins with every heartbeat answered and none written; the lock goes a moment later.
      child.process.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 500));
      await locker.query('commit');
      await child.exited;
      const { rows } = await db.query<{ id: string }>(`select id from agents where id = any($1::uuid[]) and last_seen > now() - interval '1 hour'`, [fleet.map((a) => a.id)]);
      expect(rows.map((r) => r.id).sort()).toEqual(fleet.map((a) => a.id).sort());
    } finally {
      await Promise.all([db.end(), locker.end()]);
    }
  });

  it('npm run agent:sim enrols a fleet, drives it, and sums it up in one JSON line', async (ctx) => {
    if (!database.url) return ctx.skip();
    const child = await startChildServer(env());
    try {
      const login = await http(child.url, 'POST', '/api/v1/auth/login', { json: { email: 'admin@fleet.example.com', password: 'fleet-admin-password-1' } });
      const auth = { authorization: `Bearer ${login.body.data.access_token}` };
      const teamId = (await http(child.url, 'POST', '/api/v1/teams', { headers: auth, json: { name: 'Sim' } })).body.data.id;
      const args = ['run', '-s', 'agent:sim', '--', '--url', child.url, '--email', 'admin@fleet.example.com', '--password', 'fleet-admin-password-1', '--team', teamId];
      const sim = spawn('npm', [...args, '--agents', '60', '--duration', '3', '--heartbeat-s', '1', '--claim-s', '1', '--metrics-s', '2', '--points', '5'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      sim.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      sim.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => sim.once('exit', resolve));
      expect(code, stderr).toBe(0);
      const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
      expect(summary.agents).toBe(60);
      expect(summary.enrol).toMatchObject({ acknowledged: 60, errors: 0 });
      // 3 s at one heartbeat a second each: about 180 (the first and last ticks may fall either side).
      expect(summary.heartbeat.acknowledged).toBeGreaterThanOrEqual(150);
      expect(summary.heartbeat.errors).toBe(0);
      expect(summary.claim.acknowledged).toBeGreaterThanOrEqual(150);
      expect(summary.metrics.acknowledged).toBeGreaterThanOrEqual(75);
      expect(summary.metrics.samples).toBe(summary.metrics.acknowledged * 20);
      expect(summary.heartbeat.latency_p99_ms).toBeGreaterThan(0);
      expect(stderr).toMatch(/"msg":"progress"/);
      const agents = (await http(child.url, 'GET', `/api/v1/agents?team_id=${teamId}&limit=1`, { headers: auth })).body.pagination;
      expect(agents.total ?? 60).toBe(60);
    } finally {
      child.process.kill('SIGTERM');
      await child.exited;
    }
  });
});

describe('signs of life while the database is away', () => {
  let proxy: TcpProxy | undefined;
  let server: TestServer | undefined;
  beforeAll(async () => {
    if (!(await postgresAnswers())) return;
    const target = new URL(adminDatabaseUrl);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    server = await startTestServer({ DB_TIMEOUT_MS: '1500' }, { databaseUrl: (url) => throughProxy(url, proxy!) });
  }, 60_000);
  afterAll(async () => {
    proxy?.restore();
    await server?.close();
    await proxy?.close();
  });

  it('writes a heartbeat answered just before the cut once the database is back, with its own time; later ones get 503', async (ctx) => {
    if (!server || !proxy) return ctx.skip('needs a real PostgreSQL to cut');
    const [agent] = await enrolMany(server, server.teamId, 1);
    const beat = () => http(server!.url, 'POST', '/api/v1/agent/heartbeat', asAgent(agent!.key));
    expect((await beat()).status).toBe(200);
    proxy.cut('refuse');
    // Within the change feed's ceiling (1 s) the process still answers from what it knows; the write fails and waits.
    const answered = await beat();
    expect(answered.status).toBe(200);
    const answeredAt = Date.parse(answered.body.data.server_time);
    // Past the ceiling nothing is answered from memory: the heartbeat waits for its write, which cannot be made.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const refused = await beat();
    expect(refused.status).toBe(503);
    proxy.restore();
    const lastSeen = async () => {
      const { rows } = await sql<{ last_seen: Date }>`select last_seen from agents where id = ${agent!.id}`.execute(server!.database.db);
      return rows[0]!.last_seen.getTime();
    };
    await expect.poll(lastSeen, { timeout: 10_000, interval: 200 }).toBeGreaterThanOrEqual(answeredAt - 5);
    // The acknowledged heartbeat's time, not the refused one's (1.5 s later) nor the write's.
    expect(Math.abs((await lastSeen()) - answeredAt)).toBeLessThan(500);
  });
});
