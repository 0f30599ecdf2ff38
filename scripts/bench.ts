// Opsdeck throughput bench: requests/s, p50/p99 latency and server RSS of Opsdeck against two baselines
// that run the same SQL (a bare node:http + pg server, and a plain Express 5 + pg app), for
// GET /api/v1/agents/{id} and GET /api/v1/agents?limit=50, on a real PostgreSQL seeded with N agents.
// Opsdeck runs twice: with its edge off (no rate limits, no Redis) and on (every request runs the
// token-bucket Lua script in Redis, under limits too generous to refuse anything), which shows what the
// edge costs per request; the two run side by side and are measured alternately (off, on, on, off), so
// that drift in the machine's load does not pass for the edge. Opsdeck requires a caller: the bench signs
// its administrator in, makes a team through the API, seeds the agents into it, and sends the token with
// every request (the baselines get it and ignore it). Each server runs in its own child process (so RSS
// is its own); autocannon drives it from here.
//
// Then, against Opsdeck alone (edge on; edge off without Redis), each after a warm-up of `--warmup`:
//   cursor_depth   GET /api/v1/agents?limit=50 by cursor and by offset at depths 0, ~1 %, ~50 % and ~99 %
//                  of the fleet (created_at desc), to show that a cursor page costs the same at any depth
//                  while an offset page grows with it; each page measured twice for half of `--duration`
//                  (depths ascending, then descending). The cursors are made from the database, not walked
//                  to, and checked against Opsdeck (scripts/bench/lists.ts); EXPLAIN (ANALYZE, BUFFERS)
//                  shows the plan and cost of the page query Opsdeck runs, first page against deepest;
//   filtered_list  GET /api/v1/agents?status=online&platform=linux&search=web&limit=50 for `--duration`
//                  (an offset page: its count comes from Opsdeck's cache after the first request);
//   bulk_alerts    POST /api/v1/alerts/bulk, 1,000 alerts per request, 4 connections, for `--duration`;
//   fleet          a fleet's steady load (scripts/bench/fleet.ts): `--fleet-agents` (100,000) agents enrolled
//                  through the API, then heartbeats, task claims and metrics reports, each for
//                  `--fleet-duration` (60) s at its interval, open-loop; heartbeats again on WEB_CONCURRENCY=2;
//                  rates against targets, latency, server CPU and RSS, PostgreSQL rows written, the sweeper;
//   events         from a change to its consumers (no warm-up): `--events` alerts raised in bulk, then 50
//                  one at a time, each timed from its answer to its arrival on the live stream and at a
//                  webhook receiver in the bench process; rates, latencies, duplicates and missing ones
//                  (scripts/bench/events.ts);
//   fleet_task     POST /api/v1/tasks on a group of 5,000 agents (seeded by SQL), a few times: the parent, its
//                  5,000 children and their events in one transaction, against the 2 s
//                  (scripts/bench/fleet-task.ts);
//   metrics_query  a week of 1-minute `cpu_usage` samples for up to `--metrics-agents` (1,000) of the team's
//                  agents, rolled up; then POST /api/v1/metrics/query (7 days, 1-hour buckets, by platform)
//                  timed over HTTP, with the EXPLAIN plan of its statement (scripts/bench/metrics-query.ts);
//   alert_rules    1,000 agents (seeded with keys) and 100 rules: rules evaluated per second when all are due at
//                  once, and the delay from a crossing sample reported over HTTP to its firing alert (p50/p99 over
//                  30 probes) while the agents report (scripts/bench/alert-rules.ts).
// Between two runs the bench waits until the server has answered what the last one left queued.
// The baselines-and-edge comparison above is the section `compare`; `--only` picks sections by name.
//
//   npm run bench -- --duration 5 --agents 5000      (defaults: --duration 10 --agents 10000
//                                                      --warmup 2 --connections 50 --events 5000,
//                                                      every section)
//   npm run bench -- --only cursor_depth,bulk_alerts --agents 100000
//   npm run bench -- --only events --events 2000
//   npm run bench -- --only fleet --fleet-agents 20000 --fleet-duration 30
//   npm run bench -- --only fleet_task --agents 1000
//   npm run bench -- --only metrics_query --agents 1000
//   npm run bench -- --only alert_rules
//
// PostgreSQL: BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres; the run creates a
// database opsdeck_bench_<random> there and drops it at the end. Redis: BENCH_REDIS_URL, else
// redis://127.0.0.1:6379; the edge-on run uses keys under opsdeck-bench:<random>: and removes them at the
// end; without Redis that run is left out. Progress goes to stderr as JSON lines; stdout gets the table
// and then exactly one JSON line with every figure. It is a measurement, not a test: the exit code is 0
// whenever the bench ran, 1 when it could not (e.g. no PostgreSQL).
import { isDeepStrictEqual, parseArgs } from 'node:util';
import pg from 'pg';
import { ALERTS_PER_REQUEST, BULK_CONNECTIONS, BULK_PATH, bulkAlerts, probeBulk, type BulkTally } from './bench/bulk-alerts.ts';
import { createBenchDatabase, DatabaseUnreachableError, DEFAULT_ADMIN_URL, type BenchDatabase } from './bench/database.ts';
import { measureEvents, type EventsReport } from './bench/events.ts';
import { explainPages, FILTERED_LIST_PATH, PAGE_LIMIT, planDepths, probeFilteredList } from './bench/lists.ts';
import { ENDPOINTS, meanOf, runLoad, runRequests, stopLoad, type EndpointName, type LoadFigures } from './bench/load.ts';
import { log, redactUrl } from './bench/log.ts';
import { measureFleet, type FleetReport } from './bench/fleet.ts';
import { measureFleetTask, type FleetTaskReport } from './bench/fleet-task.ts';
import { measureMetricsQuery, type MetricsQueryReport } from './bench/metrics-query.ts';
import { measureAlertRules, type AlertRulesReport } from './bench/alert-rules.ts';
import { ADMIN, DEFAULT_REDIS_URL, dropRedisKeys, opsdeckSetup, redisVersion, signInAndMakeTeam } from './bench/opsdeck.ts';
import {
  edgeCost,
  targetsOf,
  printReport,
  ratios,
  toMb,
  type BulkAlertsReport,
  type CursorDepthReport,
  type DepthFigures,
  type FilteredListReport,
  type Report,
  type Results,
} from './bench/report.ts';
import { seedAgents } from './bench/seed.ts';
import { measureStartup, type StartupReport } from './bench/startup.ts';
import { killAllServers, SERVERS, startServerProcess, type ServerName, type ServerUnderTest } from './bench/servers.ts';

const SECTIONS = ['compare', 'cursor_depth', 'filtered_list', 'bulk_alerts', 'events', 'fleet_task', 'fleet', 'metrics_query', 'startup', 'alert_rules'] as const;
type Section = (typeof SECTIONS)[number];

interface Settings {
  sections: Set<Section>;
  agents: number;
  durationS: number;
  warmupS: number;
  connections: number;
  /** Alerts the events section raises in bulk. */
  events: number;
  /** Agents the fleet section enrols, and how long it drives each activity. */
  fleetAgents: number;
  fleetDurationS: number;
  /** Agents the metrics_query section gives a week of samples. */
  metricsAgents: number;
  adminUrl: string;
  redisUrl: string;
}

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      agents: { type: 'string', default: '10000' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      events: { type: 'string', default: '5000' },
      'fleet-agents': { type: 'string', default: '100000' },
      'fleet-duration': { type: 'string', default: '60' },
      'metrics-agents': { type: 'string', default: '1000' },
      only: { type: 'string', default: SECTIONS.join(',') },
    },
    strict: true,
  });
  const int = (name: string, raw: string, min: number, max: number): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return value;
  };
  const sections = new Set<Section>();
  for (const name of values.only.split(',').map((n) => n.trim()).filter(Boolean)) {
    if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`--only takes section names among ${SECTIONS.join(', ')}, got "${name}"`);
    sections.add(name as Section);
  }
  if (sections.size === 0) throw new Error(`--only needs at least one of ${SECTIONS.join(', ')}`);
  return {
    sections,
    agents: int('agents', values.agents, 1, 10_000_000),
    durationS: int('duration', values.duration, 1, 3600),
    warmupS: int('warmup', values.warmup, 0, 600),
    connections: int('connections', values.connections, 1, 10_000),
    events: int('events', values.events, 1, 1_000_000),
    fleetAgents: int('fleet-agents', values['fleet-agents'], 100, 1_000_000),
    fleetDurationS: int('fleet-duration', values['fleet-duration'], 5, 3600),
    metricsAgents: int('metrics-agents', values['metrics-agents'], 1, 100_000),
    adminUrl: process.env.BENCH_DATABASE_URL || DEFAULT_ADMIN_URL,
    redisUrl: process.env.BENCH_REDIS_URL || DEFAULT_REDIS_URL,
  };
}

let database: BenchDatabase | undefined;
/** The Redis keys of the edge-on run, once it started. */
let redisKeys: { url: string; prefix: string } | undefined;
let cleaning: Promise<void> | undefined;

/** Stops every child server, drops the bench database and the run's Redis keys; safe to call more than once. */
function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    stopLoad();
    killAllServers();
    if (redisKeys) {
      const { url, prefix } = redisKeys;
      await dropRedisKeys(url, prefix)
        .then((keys) => log.info('removed the run\'s Redis keys', { prefix, keys }))
        .catch((err: unknown) => log.error('could not remove the run\'s Redis keys; they expire by themselves', { prefix, error: String(err) }));
    }
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

/**
 * One GET of each endpoint before the load: the server answers, and its agent is field for field the others'.
 * Of Opsdeck it also checks the edge: an ETag always, rate-limit headers exactly when the edge is on (so a
 * Redis that fails open cannot pass for the edge).
 */
async function probe(server: ServerUnderTest, id: string, headers: Record<string, string>): Promise<unknown> {
  const label = SERVERS[server.name].label;
  const one = await fetch(`${server.url}/api/v1/agents/${id}`, { headers });
  const body = (await one.json()) as { data?: unknown };
  if (one.status !== 200 || !body.data) throw new Error(`${label}: GET /api/v1/agents/${id} answered ${one.status}: ${JSON.stringify(body)}`);
  const list = await fetch(`${server.url}/api/v1/agents?limit=50`, { headers });
  const page = (await list.json()) as { data?: unknown[]; pagination?: { total?: number } };
  if (list.status !== 200 || (page.data?.length !== 50 && page.data?.length !== page.pagination?.total)) {
    throw new Error(`${label}: GET /api/v1/agents?limit=50 answered ${list.status} with ${page.data?.length} items`);
  }
  if (server.name === 'opsdeck' || server.name === 'opsdeck_edge_off') {
    const edgeOn = server.name === 'opsdeck';
    for (const answer of [one, list]) {
      if (!answer.headers.get('etag')) throw new Error(`${label}: a GET answered no ETag`);
      if (answer.headers.has('x-ratelimit-limit') !== edgeOn) {
        throw new Error(`${label}: a GET answered ${edgeOn ? 'no' : ''} X-RateLimit-* headers${edgeOn ? ' (is Redis failing open?)' : ''}`);
      }
    }
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
    sections: [...settings.sections],
    agents: settings.agents,
    duration_s: settings.durationS,
    warmup_s: settings.warmupS,
    connections: settings.connections,
    events: settings.events,
    postgres: redactUrl(settings.adminUrl),
    redis: redactUrl(settings.redisUrl),
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

  const redis = await redisVersion(settings.redisUrl);
  if (redis === undefined) log.warn('Redis does not answer: the edge-on run of Opsdeck is left out', { redis: redactUrl(settings.redisUrl) });
  const opsdeck = opsdeckSetup(settings.redisUrl);

  // The bench's caller and team come from Opsdeck itself; the agents are seeded into that team.
  const setupServer = await startServerProcess('opsdeck_edge_off', { databaseUrl: database.url, teamId: undefined, config: opsdeck.edgeOff });
  let access: { token: string; teamId: string };
  try {
    access = await signInAndMakeTeam(setupServer.url);
  } finally {
    await setupServer.stop();
  }
  log.info('signed in and made the bench team', { team_id: access.teamId });
  const headers = { authorization: `Bearer ${access.token}` };

  const seeded = await seedAgents(database.url, access.teamId, settings.agents);
  log.info('seeded', { agents: seeded.agents, ms: seeded.ms, sample_ids: seeded.sampleIds.length });
  const postgres = await postgresVersion(database.url);

  const results: Results = {};
  const idleRss: Partial<Record<ServerName, number>> = {};
  const endpoints = Object.keys(ENDPOINTS) as EndpointName[];
  let reference: { server: ServerName; agent: unknown } | undefined;
  const configOf: Partial<Record<ServerName, Record<string, string>>> = { opsdeck_edge_off: opsdeck.edgeOff, opsdeck: opsdeck.edgeOn };

  const start = async (name: ServerName): Promise<ServerUnderTest> => {
    if (name === 'opsdeck') redisKeys = { url: opsdeck.redisUrl, prefix: opsdeck.redisKeyPrefix };
    const server = await startServerProcess(name, { databaseUrl: database!.url, teamId: access.teamId, config: configOf[name] ?? {} });
    log.info('server started', { server: name, url: server.url, pid: server.pid, idle_rss_mb: toMb(server.idleRss) });
    idleRss[name] = toMb(server.idleRss);
    const agent = await probe(server, seeded.sampleIds[0]!, headers);
    if (!reference) reference = { server: name, agent };
    else if (!isDeepStrictEqual(agent, reference.agent)) {
      log.warn('the agent this server returns differs from the first server\'s', { server: name, reference: reference.server, agent, expected: reference.agent });
    }
    return server;
  };
  const stop = async (server: ServerUnderTest): Promise<void> => {
    await server.stop();
    log.info('server stopped', { server: server.name });
  };
  const load = (server: ServerUnderTest, endpoint: EndpointName, durationS: number) =>
    runLoad({ url: server.url, endpoint, ids: seeded.sampleIds, connections: settings.connections, headers, durationS });
  const warmUp = async (server: ServerUnderTest, endpoint: EndpointName): Promise<void> => {
    if (settings.warmupS === 0) return;
    log.info('warming up', { server: server.name, endpoint, seconds: settings.warmupS });
    await load(server, endpoint, settings.warmupS);
  };
  const measure = async (server: ServerUnderTest, endpoint: EndpointName, round?: number): Promise<LoadFigures> => {
    log.info('measuring', { server: server.name, endpoint, seconds: settings.durationS, round });
    const figures = await load(server, endpoint, settings.durationS);
    log.info('measured', { server: server.name, endpoint, round, requests_per_s: figures.requests_per_s, p50_ms: figures.latency_p50_ms, p99_ms: figures.latency_p99_ms });
    return figures;
  };
  const record = async (server: ServerUnderTest, endpoint: EndpointName, figures: LoadFigures): Promise<void> => {
    const rss = toMb(await server.rss());
    (results[endpoint] ??= {})[server.name] = { ...figures, rss_mb: rss };
  };

  const want = (section: Section) => settings.sections.has(section);
  const compare = want('compare');

  // The baselines, one after the other.
  if (compare) {
    for (const name of ['bare', 'express'] as const satisfies ServerName[]) {
      const server = await start(name);
      try {
        for (const endpoint of endpoints) {
          await warmUp(server, endpoint);
          await record(server, endpoint, await measure(server, endpoint));
        }
      } finally {
        await stop(server);
      }
    }
  }

  // The two Opsdeck variants run side by side and are measured alternately, off-on-on-off, each figure the
  // mean of its two runs: the load of a shared machine drifts, and what the edge costs per request is
  // smaller than that drift between two runs one after the other. The other sections need only Opsdeck as
  // deployed: edge on (edge off when there is no Redis).
  const pair: ServerName[] = redis === undefined ? ['opsdeck_edge_off'] : ['opsdeck_edge_off', 'opsdeck'];
  const opsdeckOnly: ServerName = redis === undefined ? 'opsdeck_edge_off' : 'opsdeck';
  let running: ServerUnderTest[] = [];
  let cursorDepth: CursorDepthReport | null = null;
  let filteredList: FilteredListReport | null = null;
  let bulk: BulkAlertsReport | null = null;
  let events: EventsReport | null = null;
  let fleetTask: FleetTaskReport | null = null;
  let metricsQuery: MetricsQueryReport | null = null;
  let alertRules: AlertRulesReport | null = null;
  try {
    for (const name of compare ? pair : [opsdeckOnly]) running.push(await start(name));
    if (compare) {
      for (const endpoint of endpoints) {
        for (const server of running) await warmUp(server, endpoint);
        const rounds = new Map<ServerUnderTest, LoadFigures[]>(running.map((server) => [server, []]));
        const order = running.length === 2 ? [running[0]!, running[1]!, running[1]!, running[0]!] : running;
        for (const [i, server] of order.entries()) rounds.get(server)!.push(await measure(server, endpoint, i + 1));
        for (const server of running) await record(server, endpoint, meanOf(rounds.get(server)!));
      }
    }
    // The rest runs on one server; the other one stops, so it holds no connections meanwhile.
    const target = running.find((server) => server.name === opsdeckOnly)!;
    for (const server of running) if (server !== target) await stop(server);
    running = [target];

    type Requests = Parameters<typeof runRequests>[0]['requests'];
    // When autocannon stops, requests it gave up on may still wait in the server's pool of database
    // connections (an offset page deep in the fleet keeps 50 connections' worth busy for a second or more).
    // One more request queues behind them: once it is answered, the next run starts on an idle server.
    const drive = async (label: string, requests: Requests, durationS: number, connections = settings.connections) => {
      const run = await runRequests({ url: target.url, requests, connections, durationS, headers, label });
      const settling = performance.now();
      await (await fetch(`${target.url}/api/v1/agents?limit=1&cursor=`, { headers })).arrayBuffer();
      const settleMs = Math.round(performance.now() - settling);
      if (settleMs > 100) log.info('waited for the server to finish the run\'s last requests', { endpoint: label, ms: settleMs });
      return run;
    };
    const warmUpOn = async (label: string, requests: Requests, connections?: number): Promise<void> => {
      if (settings.warmupS === 0) return;
      log.info('warming up', { server: target.name, endpoint: label, seconds: settings.warmupS });
      await drive(label, requests, settings.warmupS, connections);
    };
    const measureOn = async (label: string, requests: Requests, o: { connections?: number; durationS?: number; round?: number } = {}) => {
      const seconds = o.durationS ?? settings.durationS;
      log.info('measuring', { server: target.name, endpoint: label, seconds, round: o.round });
      const run = await drive(label, requests, seconds, o.connections);
      const f = run.figures;
      log.info('measured', { server: target.name, endpoint: label, round: o.round, requests_per_s: f.requests_per_s, p50_ms: f.latency_p50_ms, p99_ms: f.latency_p99_ms });
      return run;
    };

    if (want('cursor_depth')) {
      const plans = await planDepths({ databaseUrl: database.url, url: target.url, teamId: access.teamId, agents: seeded.agents, headers });
      log.info('made and checked a cursor per depth', { depths: plans.map((p) => p.depth) });
      const first = plans[0]!;
      const deepest = plans.at(-1)!;
      const explain = await explainPages(database.url, access.teamId, [
        { mode: 'cursor', plan: first },
        { mode: 'cursor', plan: deepest },
        { mode: 'offset', plan: deepest },
      ]);
      for (const e of explain) log.info('explained', { ...e });
      // One warm-up over every page of the section, cursor and offset alike. Then each page is measured on
      // its own, twice, for half of --duration each time: depths ascending (cursor, offset), then descending
      // (offset, cursor); each figure is the mean of its two runs, so that a drift in the machine's load
      // over the section does not pass for a cost that grows (or shrinks) with depth.
      await warmUpOn('cursor and offset pages, every depth', plans.flatMap((p) => [{ method: 'GET', path: p.cursorPath }, { method: 'GET', path: p.offsetPath }]));
      const halfS = Math.max(1, Math.ceil(settings.durationS / 2));
      const runs = new Map(plans.map((plan) => [plan, { cursor: [] as LoadFigures[], offset: [] as LoadFigures[] }]));
      const ascending = plans.flatMap((plan) => [{ plan, mode: 'cursor' as const }, { plan, mode: 'offset' as const }]);
      for (const [i, { plan, mode }] of [...ascending, ...ascending.toReversed()].entries()) {
        const path = mode === 'cursor' ? plan.cursorPath : plan.offsetPath;
        const round = i < ascending.length ? 1 : 2;
        runs.get(plan)![mode].push((await measureOn(`${mode} page at depth ${plan.depth}`, [{ method: 'GET', path }], { durationS: halfS, round })).figures);
      }
      const depths: DepthFigures[] = plans.map((plan) => ({
        depth: plan.depth,
        percent: plan.percent,
        cursor: meanOf(runs.get(plan)!.cursor),
        offset: meanOf(runs.get(plan)!.offset),
      }));
      const relative = (pick: (d: DepthFigures) => LoadFigures) => {
        const a = pick(depths[0]!).requests_per_s;
        const b = pick(depths.at(-1)!).requests_per_s;
        return depths.length < 2 || a === 0 ? null : Math.round((b / a) * 100) / 100;
      };
      cursorDepth = {
        server: target.name,
        limit: PAGE_LIMIT,
        connections: settings.connections,
        run_s: halfS,
        rounds: 2,
        depths,
        deepest_vs_first: { cursor: relative((d) => d.cursor), offset: relative((d) => d.offset) },
        explain,
      };
    }

    if (want('filtered_list')) {
      const matching = await probeFilteredList(target.url, headers);
      const requests = [{ method: 'GET', path: FILTERED_LIST_PATH }];
      await warmUpOn('filtered list', requests);
      const { figures } = await measureOn('filtered list', requests);
      filteredList = { server: target.name, path: FILTERED_LIST_PATH, connections: settings.connections, matching, ...figures };
    }

    if (want('bulk_alerts')) {
      const alerts = bulkAlerts(access.teamId, seeded.sampleIds);
      await probeBulk(target.url, headers, alerts.nextBody());
      await warmUpOn('bulk alerts', alerts.requests({ created: 0, failed: 0 }), BULK_CONNECTIONS);
      const tally: BulkTally = { created: 0, failed: 0 };
      const { figures, durationS } = await measureOn('bulk alerts', alerts.requests(tally), { connections: BULK_CONNECTIONS });
      if (tally.failed > 0) log.warn('some alerts of the bulk requests failed', { failed: tally.failed, first_error: tally.firstError });
      bulk = {
        server: target.name,
        path: BULK_PATH,
        alerts_per_request: ALERTS_PER_REQUEST,
        connections: BULK_CONNECTIONS,
        duration_s: durationS,
        requests: figures.requests,
        // autocannon's requests/s is a whole number per second, which would round a few requests/s away.
        requests_per_s: Math.round((figures.requests / durationS) * 100) / 100,
        alerts_per_s: Math.round(tally.created / durationS),
        alerts_created: tally.created,
        alerts_failed: tally.failed,
        latency_p50_ms: figures.latency_p50_ms,
        latency_p99_ms: figures.latency_p99_ms,
        latency_avg_ms: figures.latency_avg_ms,
        non_2xx: figures.non_2xx,
        errors: figures.errors,
        timeouts: figures.timeouts,
      };
      log.info('bulk alerts', { requests_per_s: bulk.requests_per_s, alerts_per_s: bulk.alerts_per_s, created: tally.created, failed: tally.failed });
    }

    if (want('events')) {
      const config = configOf[target.name] ?? {};
      events = await measureEvents({ server: target, config, databaseUrl: database.url, token: access.token, teamId: access.teamId, agentIds: seeded.sampleIds, alerts: settings.events });
    }

    if (want('fleet_task')) fleetTask = await measureFleetTask({ url: target.url, headers, databaseUrl: database.url, teamId: access.teamId });
    if (want('metrics_query')) {
      metricsQuery = await measureMetricsQuery({ databaseUrl: database.url, url: target.url, teamId: access.teamId, headers, agents: settings.metricsAgents, days: 7 });
    }
    if (want('alert_rules')) alertRules = await measureAlertRules({ url: target.url, headers, databaseUrl: database.url, teamId: access.teamId });
  } finally {
    for (const server of running) await stop(server);
  }

  // A fleet's steady load, on a server of its own (its own team and agents, enrolled through the API).
  let fleet: FleetReport | null = null;
  if (want('fleet')) {
    if (redis === undefined) log.warn('Redis does not answer: the fleet section is left out (it measures the edge as deployed)');
    else {
      const config = { ...opsdeck.common, RATE_LIMITS_ENABLED: 'true', REDIS_URL: opsdeck.redisUrl, REDIS_KEY_PREFIX: opsdeck.redisKeyPrefix };
      redisKeys = { url: opsdeck.redisUrl, prefix: opsdeck.redisKeyPrefix };
      fleet = await measureFleet({ databaseUrl: database.url, config, admin: ADMIN, agents: settings.fleetAgents, durationS: settings.fleetDurationS });
    }
  }

  // Last, with nothing else running: how long `npm start` takes to be ready.
  let startup: StartupReport | null = null;
  if (want('startup')) startup = await measureStartup(database.url);

  const report: Report = {
    bench: 'opsdeck',
    agents: settings.agents,
    duration_s: settings.durationS,
    warmup_s: settings.warmupS,
    connections: settings.connections,
    node: process.versions.node,
    postgres,
    redis: redis ?? null,
    opsdeck_rounds: compare && pair.length === 2 ? 2 : 1,
    results,
    ratios: ratios(results),
    edge_cost: edgeCost(results),
    idle_rss_mb: idleRss,
    sections: SECTIONS.filter(want),
    cursor_depth: cursorDepth,
    filtered_list: filteredList,
    bulk_alerts: bulk,
    events,
    fleet_task: fleetTask,
    fleet,
    metrics_query: metricsQuery,
    alert_rules: alertRules,
    startup,
    targets: targetsOf(results, idleRss, startup),
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
