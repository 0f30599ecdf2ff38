// Opsdeck throughput bench: requests/s, p50/p99 latency and server RSS of Opsdeck against two baselines
// that run the very same SQL (a bare node:http + pg server, and a plain Express 5 + pg app), for
// GET /api/v1/agents/{id} and GET /api/v1/agents?limit=50, on a real PostgreSQL seeded with N agents.
// Each server runs alone in its own child process (so RSS is its own); autocannon drives it from here.
//
//   npm run bench -- --duration 5 --agents 5000      (defaults: --duration 10 --agents 10000
//                                                      --warmup 2 --connections 50)
//
// PostgreSQL: BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres; the run creates a
// database opsdeck_bench_<random> there and drops it at the end. Progress goes to stderr as JSON lines;
// stdout gets the table and then exactly one JSON line with every figure. It is a measurement, not a
// test: the exit code is 0 whenever the bench ran, 1 when it could not (e.g. no PostgreSQL).
import { isDeepStrictEqual, parseArgs } from 'node:util';
import pg from 'pg';
import { createBenchDatabase, DatabaseUnreachableError, DEFAULT_ADMIN_URL, type BenchDatabase } from './bench/database.ts';
import { ENDPOINTS, runLoad, stopLoad, type EndpointName } from './bench/load.ts';
import { log, redactUrl } from './bench/log.ts';
import { printReport, ratios, toMb, type Report, type Results } from './bench/report.ts';
import { seedAgents } from './bench/seed.ts';
import { killAllServers, SERVERS, startServerProcess, type ServerName, type ServerUnderTest } from './bench/servers.ts';

interface Settings {
  agents: number;
  durationS: number;
  warmupS: number;
  connections: number;
  adminUrl: string;
}

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      agents: { type: 'string', default: '10000' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
    },
    strict: true,
  });
  const int = (name: string, raw: string, min: number, max: number): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return value;
  };
  return {
    agents: int('agents', values.agents, 1, 10_000_000),
    durationS: int('duration', values.duration, 1, 3600),
    warmupS: int('warmup', values.warmup, 0, 600),
    connections: int('connections', values.connections, 1, 10_000),
    adminUrl: process.env.BENCH_DATABASE_URL || DEFAULT_ADMIN_URL,
  };
}

let database: BenchDatabase | undefined;
let cleaning: Promise<void> | undefined;

/** Stops every child server and drops the bench database; safe to call more than once. */
function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    stopLoad();
    killAllServers();
    if (database) {
      const { name } = database;
      await database
        .drop()
        .then(() => log.info('dropped the bench database', { database: name }))
        .catch((err: unknown) => log.error('could not drop the bench database; drop it by hand', { database: name, error: String(err) }));
    }
  })());
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.warn(`${signal}: stopping, cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** One GET of each endpoint before the load: the server answers, and its agent is field for field the others'. */
async function probe(server: ServerUnderTest, id: string): Promise<unknown> {
  const one = await fetch(`${server.url}/api/v1/agents/${id}`);
  const body = (await one.json()) as { data?: unknown };
  if (one.status !== 200 || !body.data) throw new Error(`${SERVERS[server.name].label}: GET /api/v1/agents/${id} answered ${one.status}`);
  const list = await fetch(`${server.url}/api/v1/agents?limit=50`);
  const page = (await list.json()) as { data?: unknown[]; pagination?: { total?: number } };
  if (list.status !== 200 || (page.data?.length !== 50 && page.data?.length !== page.pagination?.total)) {
    throw new Error(`${SERVERS[server.name].label}: GET /api/v1/agents?limit=50 answered ${list.status} with ${page.data?.length} items`);
  }
  return body.data;
}

async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    return rows[0]?.server_version.split(' ')[0] ?? 'unknown';
  } finally {
    await client.end().catch(() => {});
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  log.info('bench starting', {
    agents: settings.agents,
    duration_s: settings.durationS,
    warmup_s: settings.warmupS,
    connections: settings.connections,
    postgres: redactUrl(settings.adminUrl),
  });

  try {
    database = await createBenchDatabase(settings.adminUrl, (created) => (database = created));
  } catch (err) {
    if (err instanceof DatabaseUnreachableError) {
      throw new Error(
        `PostgreSQL does not answer at ${redactUrl(settings.adminUrl)} (${err.message}). Start one, or point BENCH_DATABASE_URL at an admin connection string.`,
      );
    }
    throw err;
  }
  log.info('created the bench database and applied the migrations', { database: database.name });

  const seeded = await seedAgents(database.url, settings.agents);
  log.info('seeded', { agents: seeded.agents, ms: seeded.ms, sample_ids: seeded.sampleIds.length });
  const postgres = await postgresVersion(database.url);

  const results: Results = {};
  const idleRss: Partial<Record<ServerName, number>> = {};
  const endpoints = Object.keys(ENDPOINTS) as EndpointName[];
  let reference: { server: ServerName; agent: unknown } | undefined;

  for (const name of ['bare', 'express', 'opsdeck'] as const satisfies ServerName[]) {
    const server = await startServerProcess(name, database.url);
    log.info('server started', { server: name, url: server.url, pid: server.pid, idle_rss_mb: toMb(server.idleRss) });
    idleRss[name] = toMb(server.idleRss);
    try {
      const agent = await probe(server, seeded.sampleIds[0]!);
      if (!reference) reference = { server: name, agent };
      else if (!isDeepStrictEqual(agent, reference.agent)) {
        log.warn('the agent this server returns differs from the first server\'s', { server: name, reference: reference.server, agent, expected: reference.agent });
      }

      for (const endpoint of endpoints) {
        const load = { url: server.url, endpoint, ids: seeded.sampleIds, connections: settings.connections };
        if (settings.warmupS > 0) {
          log.info('warming up', { server: name, endpoint, seconds: settings.warmupS });
          await runLoad({ ...load, durationS: settings.warmupS });
        }
        log.info('measuring', { server: name, endpoint, seconds: settings.durationS });
        const figures = await runLoad({ ...load, durationS: settings.durationS });
        const rss = toMb(await server.rss());
        (results[endpoint] ??= {})[name] = { ...figures, rss_mb: rss };
        log.info('measured', {
          server: name,
          endpoint,
          requests_per_s: figures.requests_per_s,
          p50_ms: figures.latency_p50_ms,
          p99_ms: figures.latency_p99_ms,
          rss_mb: rss,
        });
      }
    } finally {
      await server.stop();
      log.info('server stopped', { server: name });
    }
  }

  const report: Report = {
    bench: 'opsdeck',
    agents: settings.agents,
    duration_s: settings.durationS,
    warmup_s: settings.warmupS,
    connections: settings.connections,
    node: process.versions.node,
    postgres,
    results,
    ratios: ratios(results),
    idle_rss_mb: idleRss,
  };
  await cleanup();
  printReport(report);
}

try {
  await main();
} catch (err) {
  log.error(err instanceof Error ? err.message : String(err));
  await cleanup();
  process.exit(1);
}
