// Results on stdout: a readable table, the Opsdeck/baseline ratios, then exactly one line of JSON.
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
  results: Results;
  /** Opsdeck requests/s divided by the baseline's, per endpoint. */
  ratios: Partial<Record<EndpointName, { opsdeck_vs_bare: number | null; opsdeck_vs_express: number | null }>>;
  idle_rss_mb: Partial<Record<ServerName, number>>;
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
        f.latency_p50_ms.toFixed(0),
        f.latency_p99_ms.toFixed(0),
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
    out.push(`  ${ENDPOINTS[endpoint].padEnd(28)} vs bare: ${fmt(r.opsdeck_vs_bare).padStart(6)}   vs plain Express: ${fmt(r.opsdeck_vs_express).padStart(6)}`);
  }
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
