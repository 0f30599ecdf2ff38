// Results on stdout: a readable table, the Opsdeck/baseline ratios, the cost of the edge, the list and
// bulk sections (cursor against offset pages by depth, a filtered list, bulk alert creation), the path of
// events to the live stream and to webhooks, then exactly one line of JSON.
import { EVENTS_BULK_PATH, EVENTS_SINGLE_PATH, EVENTS_STREAM_PATH, type ArrivalFigures, type EventsReport } from './events.ts';
import type { FleetTaskReport } from './fleet-task.ts';
import type { ExplainFigures } from './lists.ts';
import { ENDPOINTS, type EndpointName, type LoadFigures } from './load.ts';
import { SERVERS, type ServerName } from './servers.ts';
import type { StartupReport } from './startup.ts';
import { fleetLines, type FleetReport } from './fleet.ts';
import { metricsQueryLines, type MetricsQueryReport } from './metrics-query.ts';
import { alertRulesLines, type AlertRulesReport } from './alert-rules.ts';

export interface RunFigures extends LoadFigures {
  /** RSS of the server's own process at the end of the measured run, in MB. */
  rss_mb: number;
}

export type Results = Partial<Record<EndpointName, Partial<Record<ServerName, RunFigures>>>>;

export interface Report {
  bench: 'opsdeck';
  agents: number;
  duration_s: number;
  warmup_s: number;
  connections: number;
  node: string;
  postgres: string;
  /** Redis's version; null when it did not answer (then the edge-on variant did not run). */
  redis: string | null;
  /** How many measured runs of `duration_s` each Opsdeck figure is the mean of (off-on-on-off: 2). */
  opsdeck_rounds: number;
  results: Results;
  /** Opsdeck requests/s (edge on, and edge off) divided by the baseline's, per endpoint. */
  ratios: Partial<Record<EndpointName, Ratios>>;
  /** What the edge (rate limits in Redis, the cache in Redis) costs Opsdeck per request, per endpoint. */
  edge_cost: Partial<Record<EndpointName, EdgeCost>>;
  idle_rss_mb: Partial<Record<ServerName, number>>;
  /** The sections that ran (`--only`): `compare`, `cursor_depth`, `filtered_list`, `bulk_alerts`, `events`, `fleet_task`, `fleet`, `startup`. */
  sections: string[];
  /** Cursor pages against offset pages at several depths of the fleet; null when the section did not run. */
  cursor_depth: CursorDepthReport | null;
  filtered_list: FilteredListReport | null;
  bulk_alerts: BulkAlertsReport | null;
  /** From a change to its consumers (live stream, webhooks); null when the section did not run. */
  events: EventsReport | null;
  /** POST /api/v1/tasks on 5,000 agents (scripts/bench/fleet-task.ts); null when the section did not run. */
  fleet_task: FleetTaskReport | null;
  /** How long `npm start` takes to be ready; null when the section did not run. */
  /** A fleet's steady load (scripts/bench/fleet.ts); null when the section did not run. */
  fleet: FleetReport | null;
  /** A fleet-wide metric query on a week of samples (scripts/bench/metrics-query.ts); null when the section did not run. */
  metrics_query: MetricsQueryReport | null;
  /** Alert rules on 1,000 agents: evaluation rate, sample-to-alert delay (scripts/bench/alert-rules.ts); null when the section did not run. */
  alert_rules: AlertRulesReport | null;
  startup: StartupReport | null;
  /** The request pipeline's targets, each with its figure and whether it was met (null: not measured this run). */
  targets: Record<string, { figure: number | null; target: string; met: boolean | null }>;
}

/** The targets of the request pipeline: Opsdeck (edge on) at or above plain Express, its memory and start-up times. */
export function targetsOf(results: Results, idleRss: Partial<Record<ServerName, number>>, startup: StartupReport | null): Report['targets'] {
  const check = (figure: number | null | undefined, target: string, met: (v: number) => boolean) => ({ figure: figure ?? null, target, met: figure == null ? null : met(figure) });
  const vsExpress = (endpoint: EndpointName) => ratio(results[endpoint]?.opsdeck?.requests_per_s, results[endpoint]?.express?.requests_per_s);
  const p99 = (endpoint: EndpointName) => {
    const ours = results[endpoint]?.opsdeck?.latency_p99_ms;
    const theirs = results[endpoint]?.express?.latency_p99_ms;
    return ours === undefined || theirs === undefined ? null : Math.round((ours / theirs) * 100) / 100;
  };
  return {
    getAgent_vs_express: check(vsExpress('getAgent'), '>= 1.0', (v) => v >= 1),
    listAgents_vs_express: check(vsExpress('listAgents'), '>= 1.0', (v) => v >= 1),
    getAgent_p99_vs_express: check(p99('getAgent'), '<= 1.0', (v) => v <= 1),
    listAgents_p99_vs_express: check(p99('listAgents'), '<= 1.0', (v) => v <= 1),
    idle_rss_mb: check(idleRss.opsdeck ?? idleRss.opsdeck_edge_off, '<= 150', (v) => v <= 150),
    embedded_first_start_ms: check(startup?.embedded_first_ms, '<= 5000', (v) => v <= 5000),
    embedded_second_start_ms: check(startup?.embedded_second_ms, '<= 2000', (v) => v <= 2000),
    postgres_start_ms: check(startup?.postgres_ms, '<= 1500', (v) => v <= 1500),
  };
}

export interface DepthFigures {
  /** Rows before the page. */
  depth: number;
  /** depth as a share of the fleet, in per cent. */
  percent: number;
  /** GET /api/v1/agents?limit=50&cursor=<the row before> */
  cursor: LoadFigures;
  /** GET /api/v1/agents?limit=50&offset=<depth> */
  offset: LoadFigures;
}

export interface CursorDepthReport {
  server: ServerName;
  limit: number;
  connections: number;
  /** Seconds of each measured run; each figure is the mean of `rounds` runs (depths ascending, then descending). */
  run_s: number;
  rounds: number;
  depths: DepthFigures[];
  /** requests/s at the deepest page divided by requests/s at the first, per mode (1 = flat). */
  deepest_vs_first: { cursor: number | null; offset: number | null };
  /** EXPLAIN (ANALYZE, BUFFERS) of Opsdeck's page query: cursor at the first and deepest page, offset at the deepest. */
  explain: ExplainFigures[];
}

export interface FilteredListReport extends LoadFigures {
  server: ServerName;
  path: string;
  connections: number;
  /** Agents matching the filters. */
  matching: number;
}

export interface BulkAlertsReport {
  server: ServerName;
  path: string;
  alerts_per_request: number;
  connections: number;
  /** Seconds the measured run lasted. */
  duration_s: number;
  requests: number;
  requests_per_s: number;
  /** Items created per second, as the answers count them. */
  alerts_per_s: number;
  alerts_created: number;
  alerts_failed: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_avg_ms: number;
  non_2xx: number;
  errors: number;
  timeouts: number;
}

export interface Ratios {
  opsdeck_vs_bare: number | null;
  opsdeck_vs_express: number | null;
  opsdeck_edge_off_vs_bare: number | null;
  opsdeck_edge_off_vs_express: number | null;
}

export interface EdgeCost {
  requests_per_s_with_edge: number;
  requests_per_s_without_edge: number;
  latency_p50_ms_with_edge: number;
  latency_p50_ms_without_edge: number;
  /** 1e6/rps_with − 1e6/rps_without: server time each request costs more with the edge, at saturation. */
  us_per_request: number | null;
  /** p50 with − p50 without (autocannon measures whole milliseconds). */
  latency_p50_delta_ms: number;
}

export const toMb = (bytes: number): number => Math.round((bytes / 1_048_576) * 10) / 10;

const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined || b === undefined || b === 0 ? null : Math.round((a / b) * 100) / 100;

export function ratios(results: Results): Report['ratios'] {
  const out: Report['ratios'] = {};
  for (const endpoint of Object.keys(results) as EndpointName[]) {
    const r = results[endpoint]!;
    out[endpoint] = {
      opsdeck_vs_bare: ratio(r.opsdeck?.requests_per_s, r.bare?.requests_per_s),
      opsdeck_vs_express: ratio(r.opsdeck?.requests_per_s, r.express?.requests_per_s),
      opsdeck_edge_off_vs_bare: ratio(r.opsdeck_edge_off?.requests_per_s, r.bare?.requests_per_s),
      opsdeck_edge_off_vs_express: ratio(r.opsdeck_edge_off?.requests_per_s, r.express?.requests_per_s),
    };
  }
  return out;
}

/** The edge's cost per endpoint where both Opsdeck variants ran. */
export function edgeCost(results: Results): Report['edge_cost'] {
  const out: Report['edge_cost'] = {};
  for (const endpoint of Object.keys(results) as EndpointName[]) {
    const on = results[endpoint]?.opsdeck;
    const off = results[endpoint]?.opsdeck_edge_off;
    if (!on || !off) continue;
    out[endpoint] = {
      requests_per_s_with_edge: on.requests_per_s,
      requests_per_s_without_edge: off.requests_per_s,
      latency_p50_ms_with_edge: on.latency_p50_ms,
      latency_p50_ms_without_edge: off.latency_p50_ms,
      us_per_request:
        on.requests_per_s > 0 && off.requests_per_s > 0 ? Math.round((1e6 / on.requests_per_s - 1e6 / off.requests_per_s) * 10) / 10 : null,
      latency_p50_delta_ms: Math.round((on.latency_p50_ms - off.latency_p50_ms) * 100) / 100,
    };
  }
  return out;
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  ').trimEnd(), ...rows.map(line)].join('\n');
}

const int = (n: number) => n.toLocaleString('en-US');
const failures = (f: LoadFigures) => (f.non_2xx + f.errors > 0 ? `${f.non_2xx + f.errors} failed` : '');

function compareLines(report: Report): string[] {
  const rows: string[][] = [];
  for (const endpoint of Object.keys(ENDPOINTS) as EndpointName[]) {
    for (const server of Object.keys(SERVERS) as ServerName[]) {
      const f = report.results[endpoint]?.[server];
      if (!f) continue;
      rows.push([
        ENDPOINTS[endpoint],
        SERVERS[server].label,
        int(f.requests_per_s),
        String(f.latency_p50_ms),
        String(f.latency_p99_ms),
        f.rss_mb.toFixed(1),
        failures(f),
      ]);
    }
  }
  const out: string[] = [
    table(['endpoint', 'server', 'req/s', 'p50 ms', 'p99 ms', 'RSS MB', ''], rows, new Set([2, 3, 4, 5])),
    '',
    'Opsdeck requests/s relative to the baselines:',
  ];
  const fmt = (r: number | null) => (r === null ? 'n/a' : `${r.toFixed(2)}x`);
  for (const endpoint of Object.keys(report.ratios) as EndpointName[]) {
    const r = report.ratios[endpoint]!;
    out.push(`  ${ENDPOINTS[endpoint].padEnd(28)} edge on:  vs bare ${fmt(r.opsdeck_vs_bare).padStart(6)}   vs plain Express ${fmt(r.opsdeck_vs_express).padStart(6)}`);
    out.push(`  ${''.padEnd(28)} edge off: vs bare ${fmt(r.opsdeck_edge_off_vs_bare).padStart(6)}   vs plain Express ${fmt(r.opsdeck_edge_off_vs_express).padStart(6)}`);
  }
  out.push('', 'The cost of the edge (Opsdeck with rate limits and cache in Redis vs without), per request:', '');
  const costRows = (Object.keys(ENDPOINTS) as EndpointName[]).flatMap((endpoint) => {
    const c = report.edge_cost[endpoint];
    if (!c) return [];
    return [[
      ENDPOINTS[endpoint],
      int(c.requests_per_s_without_edge),
      int(c.requests_per_s_with_edge),
      String(c.latency_p50_ms_without_edge),
      String(c.latency_p50_ms_with_edge),
      c.us_per_request === null ? 'n/a' : `${c.us_per_request >= 0 ? '+' : ''}${c.us_per_request.toFixed(1)}`,
    ]];
  });
  if (costRows.length > 0) {
    out.push(
      table(['endpoint', 'req/s off', 'req/s on', 'p50 ms off', 'p50 ms on', 'µs/request'], costRows, new Set([1, 2, 3, 4, 5])),
      '',
      'µs/request = 1e6/(req/s on) − 1e6/(req/s off): the server time the edge adds to each request at saturation.',
      'Both variants ran side by side, measured off, on, on, off; each figure is the mean of its two runs.',
    );
  } else {
    out.push('  n/a: the edge-on variant did not run (no Redis?)');
  }
  return out;
}

function cursorDepthLines(c: CursorDepthReport): string[] {
  const rows = c.depths.map((d) => [
    d.depth === 0 ? 'first page' : `${d.percent} %`,
    int(d.depth),
    int(d.cursor.requests_per_s),
    String(d.cursor.latency_p50_ms),
    String(d.cursor.latency_p99_ms),
    int(d.offset.requests_per_s),
    String(d.offset.latency_p50_ms),
    String(d.offset.latency_p99_ms),
    [failures(d.cursor), failures(d.offset)].filter(Boolean).join(', '),
  ]);
  const fmt = (r: number | null) => (r === null ? 'n/a' : `${r.toFixed(2)}x`);
  const out = [
    `Cursor pages against offset pages by depth (${SERVERS[c.server].label}, GET /api/v1/agents?limit=${c.limit}&cursor=… or &offset=…, ${c.connections} connections;`,
    `each figure the mean of ${c.rounds} runs of ${c.run_s} s, depths measured ascending then descending):`,
    '',
    table(
      ['depth', 'rows before', 'cursor req/s', 'p50 ms', 'p99 ms', 'offset req/s', 'p50 ms', 'p99 ms', ''],
      rows,
      new Set([1, 2, 3, 4, 5, 6, 7]),
    ),
    '',
    `req/s at the deepest page relative to the first: cursor ${fmt(c.deepest_vs_first.cursor)}, offset ${fmt(c.deepest_vs_first.offset)}`,
  ];
  if (c.explain.length > 0) {
    out.push(
      '',
      'EXPLAIN (ANALYZE, BUFFERS) of the page query Opsdeck runs (median of 5):',
      '',
      table(
        ['page', 'exec ms', 'plan ms', 'buffers', 'rows read', 'plan'],
        c.explain.map((e) => [
          `${e.mode}, ${e.depth === 0 ? 'first page' : `depth ${int(e.depth)}`}`,
          e.execution_ms.toFixed(3),
          e.planning_ms.toFixed(3),
          int(e.shared_buffers),
          int(e.rows_read),
          e.plan,
        ]),
        new Set([1, 2, 3, 4]),
      ),
    );
  }
  return out;
}

const ms = (n: number | null) => (n === null ? 'n/a' : String(Math.round(n)));
const tally = (f: ArrivalFigures) => [f.duplicates > 0 ? `${int(f.duplicates)} duplicates` : '', f.missing > 0 ? `${int(f.missing)} missing` : ''].filter(Boolean).join(', ');

function eventsLines(e: EventsReport): string[] {
  const poll = e.outbox_poll_ms === null ? 'n/a' : `${e.outbox_poll_ms} ms`;
  const a = e.accepted;
  const arrivals = (f: ArrivalFigures) => [ms(f.latency_p50_ms), ms(f.latency_p99_ms), ms(f.latency_max_ms), `${int(f.received)}/${int(f.received + f.missing)}`];
  const out = [
    `Events from a change to its consumers (${SERVERS[e.server].label}; ${int(e.alerts)} alerts in requests of ${int(e.batch_size)}, one at a time;`,
    `dispatcher polls the outbox every ${poll} and wakes the webhook deliverer when it queues deliveries):`,
    '',
    table(
      ['path', 'per s', 'p50 ms', 'p99 ms', 'max ms', 'arrived', ''],
      [
        [`accepted: POST ${EVENTS_BULK_PATH}`, int(a.alerts_per_s), ms(a.request_p50_ms), '', ms(a.request_max_ms), `${int(a.alerts_created)}/${int(a.alerts_created + a.alerts_failed)}`, a.alerts_failed > 0 ? `${int(a.alerts_failed)} items failed` : ''],
        [`stream: GET ${EVENTS_STREAM_PATH}`, int(e.stream.events_per_s), ...arrivals(e.stream), [tally(e.stream), e.stream.reconnects > 0 ? `${e.stream.reconnects} reconnects` : ''].filter(Boolean).join(', ')],
        ['webhooks: alert.triggered, answered 204', int(e.webhooks.deliveries_per_s), ...arrivals(e.webhooks), tally(e.webhooks)],
      ],
      new Set([1, 2, 3, 4, 5]),
    ),
    '',
    `  accepted: alerts per second from the first request to the last answer; p50/max: the requests' own latency.`,
    `  stream, webhooks: arrivals per second from the first request to the last arrival; latency from the answer`,
    `  to the alert's request to the event's arrival. The last event arrived ${ms(e.stream.lag_after_last_answer_ms)} ms (stream) and ${ms(e.webhooks.lag_after_last_answer_ms)} ms (webhooks)`,
    `  after the last answer.`,
    '',
    `Single alerts, one at a time (${e.trickle.alerts}, POST ${EVENTS_SINGLE_PATH}), each waited for on both paths (latency from its answer):`,
    '',
    table(
      ['path', 'p50 ms', 'p99 ms', 'max ms', 'arrived', ''],
      [
        ['stream', ...arrivals(e.trickle.stream), tally(e.trickle.stream)],
        ['webhooks', ...arrivals(e.trickle.webhooks), tally(e.trickle.webhooks)],
      ],
      new Set([1, 2, 3, 4]),
    ),
  ];
  if (e.timed_out) out.push('', '  Timed out: not every event arrived in time (see `missing`).');
  return out;
}

export function printReport(report: Report): void {
  const out: string[] = [
    '',
    `Opsdeck bench: ${int(report.agents)} agents, ${report.connections} connections, ${report.duration_s} s per run (after ${report.warmup_s} s warm-up), Node ${report.node}, PostgreSQL ${report.postgres}`,
    '',
  ];
  if (report.sections.includes('compare')) out.push(...compareLines(report), '');
  if (report.startup) {
    const s = report.startup;
    out.push(
      'Start-up (`npm start` until it listens):',
      `  embedded default, first start (new database): ${int(s.embedded_first_ms)} ms; second start: ${int(s.embedded_second_ms)} ms`,
      `  PostgreSQL (migrated): ${int(s.postgres_ms)} ms, ${s.postgres_ready_rss_mb} MB RSS when ready`,
      '',
    );
  }
  out.push(
    'Targets of the request pipeline:',
    ...Object.entries(report.targets).map(([name, t]) => `  ${name.padEnd(28)} ${t.figure === null ? '—' : String(t.figure)} (${t.target}) ${t.met === null ? 'not measured' : t.met ? 'met' : 'NOT met'}`),
    '',
  );
  if (report.fleet) out.push(...fleetLines(report.fleet), '');
  if (report.metrics_query) out.push(...metricsQueryLines(report.metrics_query), '');
  if (report.alert_rules) out.push(...alertRulesLines(report.alert_rules), '');
  if (report.cursor_depth) out.push(...cursorDepthLines(report.cursor_depth), '');
  if (report.filtered_list) {
    const f = report.filtered_list;
    out.push(
      `Filtered list (${SERVERS[f.server].label}, ${f.connections} connections; ${int(f.matching)} agents match):`,
      '',
      table(['endpoint', 'req/s', 'p50 ms', 'p99 ms', ''], [[`GET ${f.path}`, int(f.requests_per_s), String(f.latency_p50_ms), String(f.latency_p99_ms), failures(f)]], new Set([1, 2, 3])),
      '',
    );
  }
  if (report.bulk_alerts) {
    const b = report.bulk_alerts;
    out.push(
      `Bulk alert creation (${SERVERS[b.server].label}, ${int(b.alerts_per_request)} alerts per request, ${b.connections} connections, ${b.duration_s} s):`,
      '',
      table(
        ['endpoint', 'req/s', 'alerts/s', 'p50 ms', 'p99 ms', ''],
        [[
          `POST ${b.path}`,
          b.requests_per_s.toFixed(2),
          int(b.alerts_per_s),
          String(b.latency_p50_ms),
          String(b.latency_p99_ms),
          [b.non_2xx + b.errors > 0 ? `${b.non_2xx + b.errors} requests failed` : '', b.alerts_failed > 0 ? `${int(b.alerts_failed)} items failed` : ''].filter(Boolean).join(', '),
        ]],
        new Set([1, 2, 3, 4]),
      ),
      '',
    );
  }
  if (report.events) out.push(...eventsLines(report.events), '');
  if (report.fleet_task) {
    const f = report.fleet_task;
    out.push(
      `Fleet task: POST /api/v1/tasks on a group of ${int(f.agents)} agents (parent, children and events in one transaction), ${f.rounds} times:`,
      `  ${f.ms.map((ms) => `${int(ms)} ms`).join(', ')}; median ${int(f.median_ms)} ms, max ${int(f.max_ms)} ms (target < ${int(f.target_ms)} ms: ${f.met ? 'met' : 'NOT met'})`,
      '',
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
