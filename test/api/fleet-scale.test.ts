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
import { createTestDatabase, testRedis } from '../support/backends.ts';
import { startChildServer } from '../support/child-server.ts';
import { http, newAgent } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

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

  it('answers 200 concurrent heartbeats, each with its own agent, and every last_seen is written before the answer', async () => {
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

  it('brings an offline agent back online with its heartbeat, and its team’s lists show it', async () => {
    const agent = agents[0]!;
    await sql`update agents set status = 'offline', last_seen = now() - interval '1 hour' where id = ${agent.id}`.execute(server.database.db);
    const listed = async () => (await server.call('GET', `/api/v1/agents?status=offline&limit=100`)).body.data.map((a: { id: string }) => a.id);
    await expect.poll(listed, { timeout: 5000 }).toContain(agent.id);
    const beat = await http(server.url, 'POST', '/api/v1/agent/heartbeat', asAgent(agent.key));
    expect(beat.body.data.status).toBe('online');
    expect(await listed()).not.toContain(agent.id);
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

  it('loses no acknowledged heartbeat across SIGTERM, even one answered while the server stops', async (ctx) => {
    if (!database.url) return ctx.skip();
    const child = await startChildServer(env());
    const login = await http(child.url, 'POST', '/api/v1/auth/login', { json: { email: 'admin@fleet.example.com', password: 'fleet-admin-password-1' } });
    const auth = { authorization: `Bearer ${login.body.data.access_token}` };
    const teamId = (await http(child.url, 'POST', '/api/v1/teams', { headers: auth, json: { name: 'Stop' } })).body.data.id;
    const call: TestServer['call'] = (method, path, options) => http(child.url, method, path, { ...options, headers: { ...auth, ...options?.headers } });
    const fleet = await enrolMany({ url: child.url, call }, teamId, 100);
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      await db.query(`update agents set last_seen = now() - interval '1 day'`);
      const sent = fleet.map((a) => http(child.url, 'POST', '/api/v1/agent/heartbeat', asAgent(a.key)).catch(() => undefined));
      // The stop begins as soon as the first heartbeat is answered, with the others under way.
      await Promise.race(sent);
      child.process.kill('SIGTERM');
      const answers = await Promise.all(sent);
      await child.exited;
      const acknowledged = fleet.filter((_, i) => answers[i]?.status === 200).map((a) => a.id);
      expect(acknowledged.length).toBeGreaterThan(0);
      const { rows } = await db.query<{ id: string }>(`select id from agents where id = any($1::uuid[]) and last_seen > now() - interval '1 hour'`, [acknowledged]);
      expect(rows.map((r) => r.id).sort()).toEqual([...acknowledged].sort());
    } finally {
      await db.end();
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
