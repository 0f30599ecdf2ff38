// The bench's `fleet` section: a fleet's steady load on one server (and on two worker processes of one host).
// Opsdeck starts as `npm start` does (its own process, real PostgreSQL and Redis, agent keys and rate limits on,
// the spec's limits for agents and enrolment); the bench makes a team and enrollment tokens through the API,
// enrols `--fleet-agents` agents through the API (scripts/sim/fleet.ts), then drives one activity at a time for
// `--fleet-duration` seconds, open-loop, every agent at its interval, after one unmeasured interval of heartbeats
// (a server that just started reads each agent's key once):
//   heartbeat   every agent every `HEARTBEAT_INTERVAL_S` (100,000 agents: 3,700 heartbeats/s);
//   claim       the same, claiming tasks (the fleet is idle: no task is pending);
//   metrics     reports of 4 metrics × 40 samples (160), at 375 reports/s (60,000 samples/s);
// and the heartbeats again with WEB_CONCURRENCY=2 (two worker processes sharing the port). For each: the rate
// achieved against the rate offered, p50/p99 latency, the server's CPU (all its processes) and RSS, and the rows
// PostgreSQL wrote per second (pg_stat_user_tables). Last, the offline sweeper's statement on the whole fleet,
// timed from here. Nothing is mocked: the numbers are of the server as deployed.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { driveFleet, enrolFleet, FleetClient, summarise, type Activity, type TallySummary } from '../sim/fleet.ts';
import { log } from './log.ts';
import { startArguments } from './start-command.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const HEARTBEAT_INTERVAL_S = 27;
const METRIC_POINTS = 40;
const METRIC_REPORTS_PER_S = 375;
/** Agents per enrollment token: within the burst (2,000) of each token's own enrolment limit. */
const AGENTS_PER_TOKEN = 2_000;
/** Keep-alive connections the simulated fleet shares (a real fleet of this size holds thousands). */
const CONNECTIONS = 512;

export interface FleetPhase {
  activity: Activity;
  workers: number;
  offered_per_s: number;
  achieved_per_s: number;
  samples_per_s?: number;
  server_cpu_cores: number;
  /** Server CPU per acknowledged request, in µs. */
  server_cpu_us_per_request: number;
  server_rss_mb: number;
  postgres_rows_written_per_s: number;
  /** The simulator's own event-loop delay while it drove the phase (its part of the latency figures). */
  simulator_lag: { p99_ms: number; max_ms: number };
  result: TallySummary;
}

export interface FleetReport {
  agents: number;
  duration_s: number;
  connections: number;
  enrol: TallySummary & { seconds: number; per_s: number };
  phases: FleetPhase[];
  sweeper_ms: { p50: number; max: number; runs: number };
  targets: Record<string, { figure: number | null; target: string; met: boolean | null }>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** utime + stime of `pid` and every process below it, in seconds. */
function cpuSeconds(pid: number): number {
  const children = new Map<number, number[]>();
  const own = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      own.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / 100);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we read.
    }
  }
  let total = 0;
  const walk = (p: number) => {
    total += own.get(p) ?? 0;
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return total;
}

function rssMb(pid: number): number {
  let kb = 0;
  const walk = (p: number) => {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
      for (const c of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) walk(Number(c));
    } catch {
      // Gone.
    }
  };
  walk(pid);
  return Math.round(kb / 102.4) / 10;
}

interface FleetServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** `npm start`'s command with `env`, on a free port; ready once /health/ready answers 200. */
async function startFleetServer(env: Record<string, string>): Promise<FleetServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, startArguments(), {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), ...env },
    // Its logs (an access line per request, as in production) go nowhere: reading them here would cost the bench.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('the fleet server exited before it was ready');
    const ready = await fetch(`${url}/health/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error('the fleet server was not ready within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function rowsWritten(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>('select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::text as n from pg_stat_user_tables');
  return Number(rows[0]!.n);
}

async function post(url: string, path: string, body: unknown, token?: string): Promise<{ data: Record<string, unknown> }> {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`POST ${path} answered ${r.status}: ${await r.text()}`);
  return (await r.json()) as { data: Record<string, unknown> };
}

export interface FleetSettings {
  databaseUrl: string;
  /** Opsdeck's configuration, edge on (Redis, rate limits); the spec's limits apply to agents and enrolment. */
  config: Record<string, string>;
  admin: { email: string; password: string };
  agents: number;
  durationS: number;
}

export async function measureFleet(s: FleetSettings): Promise<FleetReport> {
  const env = { ...s.config, DATABASE_URL: s.databaseUrl, BACKGROUND_WORKERS: 'true', OPSDECK_DEMO_DATA: 'false' };
  const stats = new pg.Client({ connectionString: s.databaseUrl });
  stats.on('error', () => {});
  await stats.connect();
  let server = await startFleetServer(env);
  try {
    const token = (await post(server.url, '/api/v1/auth/login', s.admin)).data.access_token as string;
    const teamId = (await post(server.url, '/api/v1/teams', { name: 'Fleet bench' }, token)).data.id as string;
    const tokens: string[] = [];
    for (let made = 0; made < s.agents; made += AGENTS_PER_TOKEN) {
      tokens.push((await post(server.url, `/api/v1/teams/${teamId}/enrollment-tokens`, { name: `fleet ${made}`, expires_in_hours: 24 }, token)).data.secret as string);
    }
    let client = new FleetClient(server.url, CONNECTIONS);
    log.info('fleet: enrolling', { agents: s.agents, tokens: tokens.length });
    const enrolled = await enrolFleet({ client, tokens, count: s.agents, concurrency: 48, prefix: `bench-${Date.now().toString(36)}`, onProgress: (done, t) => log.info('fleet: enrolling', { enrolled: done, errors: t.errors }) });
    log.info('fleet: enrolled', { agents: enrolled.agents.length, seconds: Math.round(enrolled.seconds), errors: enrolled.tally.errors });

    const phases: FleetPhase[] = [];
    const run = async (activity: Activity, workers: number): Promise<void> => {
      const plan = activity === 'metrics' ? { intervalS: enrolled.agents.length / METRIC_REPORTS_PER_S, points: METRIC_POINTS } : { intervalS: HEARTBEAT_INTERVAL_S };
      const offered = Math.round(enrolled.agents.length / plan.intervalS);
      log.info('fleet: driving', { activity, workers, offered_per_s: offered, seconds: s.durationS });
      const cpuBefore = cpuSeconds(server.pid);
      const rowsBefore = await rowsWritten(stats);
      const started = performance.now();
      const tallies = await driveFleet({ client, agents: enrolled.agents, activities: { [activity]: plan }, durationS: s.durationS });
      const seconds = (performance.now() - started) / 1000;
      // pg_stat_user_tables is updated when a backend reports its counters (at most once a second).
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const rows = (await rowsWritten(stats)) - rowsBefore;
      const cpu = cpuSeconds(server.pid) - cpuBefore;
      const tally = tallies[activity];
      const phase: FleetPhase = {
        activity,
        workers,
        offered_per_s: offered,
        achieved_per_s: Math.round(tally.acknowledged / seconds),
        ...(activity === 'metrics' ? { samples_per_s: Math.round(tally.samples / seconds) } : {}),
        server_cpu_cores: Math.round((cpu / seconds) * 100) / 100,
        server_cpu_us_per_request: Math.round((cpu * 1e6) / Math.max(1, tally.acknowledged)),
        server_rss_mb: rssMb(server.pid),
        postgres_rows_written_per_s: Math.round(rows / seconds),
        simulator_lag: tallies.simulatorLag,
        result: summarise(tally),
      };
      log.info('fleet: measured', { ...phase, result: undefined, p50_ms: phase.result.latency_p50_ms, p99_ms: phase.result.latency_p99_ms, errors: phase.result.errors });
      phases.push(phase);
    };
    // A server that has just started knows none of the agents' keys: the first round of heartbeats reads each from
    // PostgreSQL once. The steady state is measured after it (one interval of heartbeats, not measured).
    const warmUp = async () => {
      log.info('fleet: warming up (one heartbeat interval, not measured)', { seconds: HEARTBEAT_INTERVAL_S });
      await driveFleet({ client, agents: enrolled.agents, activities: { heartbeat: { intervalS: HEARTBEAT_INTERVAL_S } }, durationS: HEARTBEAT_INTERVAL_S });
    };
    await warmUp();
    for (const activity of ['heartbeat', 'claim', 'metrics'] as const) await run(activity, 1);

    // The sweeper's statement over the whole fleet (no agent is silent: the steady state's cost, paid every sweep).
    const sweeps: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await stats.query('begin');
      await stats.query(`update agents set status = 'offline' where status = 'online' and (last_seen < now() - interval '90 seconds' or last_seen is null)`);
      await stats.query(`select id from tasks where status = 'running' and agent_id in (select id from agents where last_seen < now() - interval '90 seconds' or last_seen is null)`);
      await stats.query('rollback');
      sweeps.push(performance.now() - t);
    }
    sweeps.sort((a, b) => a - b);

    // The same heartbeats on two worker processes sharing the port (WEB_CONCURRENCY=2).
    client.close();
    await server.stop();
    server = await startFleetServer({ ...env, WEB_CONCURRENCY: '2' });
    client = new FleetClient(server.url, CONNECTIONS);
    await warmUp();
    await run('heartbeat', 2);
    client.close();

    const heartbeat = phases.find((p) => p.activity === 'heartbeat' && p.workers === 1)!;
    const claim = phases.find((p) => p.activity === 'claim')!;
    const metrics = phases.find((p) => p.activity === 'metrics')!;
    const check = (figure: number | null, target: string, met: (v: number) => boolean) => ({ figure, target, met: figure === null ? null : met(figure) });
    return {
      agents: enrolled.agents.length,
      duration_s: s.durationS,
      connections: CONNECTIONS,
      enrol: { ...summarise(enrolled.tally), seconds: Math.round(enrolled.seconds), per_s: Math.round(enrolled.agents.length / enrolled.seconds) },
      phases,
      sweeper_ms: { p50: Math.round(sweeps[2]!), max: Math.round(sweeps[4]!), runs: sweeps.length },
      targets: {
        heartbeats_per_s: check(heartbeat.achieved_per_s, '>= 3500', (v) => v >= 3500),
        heartbeat_p99_ms: check(heartbeat.result.latency_p99_ms, '<= 50', (v) => v <= 50),
        heartbeat_errors: check(heartbeat.result.errors, '= 0', (v) => v === 0),
        metric_samples_per_s: check(metrics.samples_per_s ?? null, '>= 50000', (v) => v >= 50_000),
        claim_cpu_vs_heartbeat: check(Math.round((claim.server_cpu_us_per_request / Math.max(1, heartbeat.server_cpu_us_per_request)) * 100) / 100, '<= 1.1', (v) => v <= 1.1),
      },
    };
  } finally {
    await server.stop();
    await stats.end().catch(() => {});
  }
}

/** The section's lines of the readable report. */
export function fleetLines(f: FleetReport): string[] {
  const n = (v: number) => v.toLocaleString('en-US');
  return [
    `Fleet (${n(f.agents)} agents enrolled through the API in ${f.enrol.seconds} s, ${n(f.enrol.per_s)}/s, ${f.enrol.errors} errors; ${f.connections} connections, ${f.duration_s} s per phase, open-loop):`,
    '',
    '  activity   workers  offered/s  achieved/s  p50 ms  p99 ms  errors  server CPU  µs/request  RSS MB  PG rows/s  sim lag p99',
    ...f.phases.map((p) =>
      [
        `  ${p.activity.padEnd(10)}`,
        String(p.workers).padStart(7),
        n(p.offered_per_s).padStart(10),
        n(p.achieved_per_s).padStart(11),
        String(p.result.latency_p50_ms).padStart(7),
        String(p.result.latency_p99_ms).padStart(7),
        String(p.result.errors).padStart(7),
        `${p.server_cpu_cores} cores`.padStart(11),
        n(p.server_cpu_us_per_request).padStart(11),
        String(p.server_rss_mb).padStart(7),
        n(p.postgres_rows_written_per_s).padStart(10),
        `${p.simulator_lag.p99_ms} ms`.padStart(12),
        p.samples_per_s ? `  (${n(p.samples_per_s)} samples/s)` : '',
      ].join(' '),
    ),
    `  offline sweeper over the fleet: ${f.sweeper_ms.p50} ms (max ${f.sweeper_ms.max} ms of ${f.sweeper_ms.runs} runs)`,
    ...Object.entries(f.targets).map(([name, t]) => `  target ${name.padEnd(24)} ${t.figure ?? '—'} (${t.target}) ${t.met === null ? 'not measured' : t.met ? 'met' : 'NOT met'}`),
  ];
}
