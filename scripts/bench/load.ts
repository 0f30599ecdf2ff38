// The autocannon driver, run in the bench process against a server in its child process: a short
// warm-up, then the measured run, per endpoint.
import autocannon from 'autocannon';
import { log } from './log.ts';

export const ENDPOINTS = {
  getAgent: 'GET /api/v1/agents/{id}',
  listAgents: 'GET /api/v1/agents?limit=50',
} as const;
export type EndpointName = keyof typeof ENDPOINTS;

export interface LoadOptions {
  url: string;
  endpoint: EndpointName;
  /** Seeded agent ids; getAgent rotates through them. */
  ids: readonly string[];
  connections: number;
  durationS: number;
  /** Sent with every request (Opsdeck's `Authorization`). */
  headers: Record<string, string>;
}

export interface LoadFigures {
  requests_per_s: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_avg_ms: number;
  requests: number;
  non_2xx: number;
  errors: number;
  timeouts: number;
}

let current: autocannon.Instance | undefined;

/** Stops the run in progress (on interrupt); its promise still resolves with what was measured. */
export function stopLoad(): void {
  current?.stop();
}

function options(o: LoadOptions): autocannon.Options {
  const base = { url: o.url, connections: o.connections, duration: o.durationS, pipelining: 1, timeout: 10, headers: o.headers };
  if (o.endpoint === 'listAgents') return { ...base, requests: [{ method: 'GET', path: '/api/v1/agents?limit=50' }] };

  // Each connection walks the whole id list from its own starting point, so concurrent requests ask for
  // different agents; the request buffers are built once per connection, not per request.
  const paths = o.ids.map((id) => `/api/v1/agents/${id}`);
  const step = Math.max(1, Math.floor(paths.length / o.connections));
  let next = 0;
  return {
    ...base,
    requests: [{ method: 'GET', path: paths[0]! }],
    setupClient(client) {
      const start = (next++ * step) % paths.length;
      client.setRequests([...paths.slice(start), ...paths.slice(0, start)].map((path) => ({ method: 'GET', path })));
    },
  };
}

export async function runLoad(o: LoadOptions): Promise<LoadFigures> {
  if (o.endpoint === 'getAgent' && o.ids.length === 0) throw new Error('getAgent needs at least one seeded agent id');
  return (await drive(options(o), o.endpoint)).figures;
}

export interface RequestsOptions {
  url: string;
  /** What each connection sends, in turn (autocannon's `requests`). */
  requests: autocannon.Request[];
  connections: number;
  durationS: number;
  /** Sent with every request (Opsdeck's `Authorization`). */
  headers: Record<string, string>;
  /** Names the run in the log. */
  label: string;
}

/** A run of arbitrary requests (a cursor at some depth, a filtered list, a bulk POST); also its true length in seconds. */
export async function runRequests(o: RequestsOptions): Promise<{ figures: LoadFigures; durationS: number }> {
  const { figures, result } = await drive(
    { url: o.url, connections: o.connections, duration: o.durationS, pipelining: 1, timeout: 10, headers: o.headers, requests: o.requests },
    o.label,
  );
  return { figures, durationS: result.duration };
}

async function drive(opts: autocannon.Options, label: string): Promise<{ figures: LoadFigures; result: autocannon.Result }> {
  current = autocannon(opts);
  let result: autocannon.Result;
  try {
    result = await current;
  } finally {
    current = undefined;
  }
  const figures: LoadFigures = {
    requests_per_s: Math.round(result.requests.average),
    latency_p50_ms: result.latency.p50,
    latency_p99_ms: result.latency.p99,
    latency_avg_ms: Math.round(result.latency.average * 100) / 100,
    requests: result.requests.total,
    non_2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
  if (figures.non_2xx > 0 || figures.errors > 0) {
    log.warn('some requests failed: the figures of this run are not comparable', {
      endpoint: label,
      non_2xx: figures.non_2xx,
      errors: figures.errors,
      timeouts: figures.timeouts,
      status_codes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
    });
  }
  return { figures, result };
}

/**
 * Several runs of one server and endpoint as one: their means (requests/s, latency percentiles and
 * average), their sums (requests, failures). A percentile's mean is not the percentile of all the
 * requests, but close to it for runs of equal length.
 */
export function meanOf(runs: readonly LoadFigures[]): LoadFigures {
  if (runs.length === 1) return runs[0]!;
  const mean = (pick: (f: LoadFigures) => number, digits = 0) => {
    const scale = 10 ** digits;
    return Math.round((runs.reduce((sum, f) => sum + pick(f), 0) / runs.length) * scale) / scale;
  };
  const sum = (pick: (f: LoadFigures) => number) => runs.reduce((total, f) => total + pick(f), 0);
  return {
    requests_per_s: mean((f) => f.requests_per_s),
    latency_p50_ms: mean((f) => f.latency_p50_ms, 1),
    latency_p99_ms: mean((f) => f.latency_p99_ms, 1),
    latency_avg_ms: mean((f) => f.latency_avg_ms, 2),
    requests: sum((f) => f.requests),
    non_2xx: sum((f) => f.non_2xx),
    errors: sum((f) => f.errors),
    timeouts: sum((f) => f.timeouts),
  };
}
