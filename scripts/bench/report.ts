// Results on stdout: a readable table, the Opsdeck/baseline ratios, the cost of the edge, then exactly
// one line of JSON.
import { ENDPOINTS, type EndpointName, type LoadFigures } from './load.ts';
import { SERVERS, type ServerName } from './servers.ts';

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

export function printReport(report: Report): void {
  const rows: string[][] = [];
  for (const endpoint of Object.keys(ENDPOINTS) as EndpointName[]) {
    for (const server of Object.keys(SERVERS) as ServerName[]) {
      const f = report.results[endpoint]?.[server];
      if (!f) continue;
      rows.push([
        ENDPOINTS[endpoint],
        SERVERS[server].label,
        f.requests_per_s.toLocaleString('en-US'),
        String(f.latency_p50_ms),
        String(f.latency_p99_ms),
        f.rss_mb.toFixed(1),
        f.non_2xx + f.errors > 0 ? `${f.non_2xx + f.errors} failed` : '',
      ]);
    }
  }
  const out: string[] = [
    '',
    `Opsdeck bench: ${report.agents.toLocaleString('en-US')} agents, ${report.connections} connections, ${report.duration_s} s per run (after ${report.warmup_s} s warm-up), Node ${report.node}, PostgreSQL ${report.postgres}`,
    '',
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
      c.requests_per_s_without_edge.toLocaleString('en-US'),
      c.requests_per_s_with_edge.toLocaleString('en-US'),
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
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
