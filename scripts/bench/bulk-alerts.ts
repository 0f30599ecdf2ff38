// The bulk section of the bench: POST /api/v1/alerts/bulk with 1,000 alerts per request, from a few
// connections. Every item names the bench team, half of them one of its agents too (so the service's
// lookup of agents' teams has work), and carries a fingerprint no other item of the run has (so the
// service's fingerprint check runs and refuses none). The body is built once as a template; each request
// stamps its own sequence number into the fingerprints. Created and failed items are tallied from the
// answers themselves.
import { randomBytes } from 'node:crypto';
import type autocannon from 'autocannon';

export const ALERTS_PER_REQUEST = 1_000;
/** Few connections: each request is a transaction of five 200-row INSERTs, not a point read. */
export const BULK_CONNECTIONS = 4;
export const BULK_PATH = '/api/v1/alerts/bulk';

const SEQ = '@@SEQ@@';
const SEVERITIES = ['info', 'warning', 'critical'] as const;

export interface BulkTally {
  created: number;
  failed: number;
  /** The first failed item's error, to show why. */
  firstError?: unknown;
}

export interface BulkAlerts {
  /** The next request's body: 1,000 items with fingerprints nothing else in the run has. */
  nextBody(): string;
  /** autocannon requests that send `nextBody()` each time and add each answer's items to `tally`. */
  requests(tally: BulkTally): autocannon.Request[];
}

export function bulkAlerts(teamId: string, agentIds: readonly string[]): BulkAlerts {
  const run = randomBytes(4).toString('hex');
  const alerts = Array.from({ length: ALERTS_PER_REQUEST }, (_, i) => ({
    team_id: teamId,
    ...(i % 2 === 0 && agentIds.length > 0 ? { agent_id: agentIds[(i / 2) % agentIds.length]! } : {}),
    title: `Bench alert ${i}: disk /var above 90%`,
    ...(i % 4 === 0 ? { message: '/var is at 93% (46.5 of 50 GiB); it grew 4 GiB in the last hour.' } : {}),
    severity: SEVERITIES[i % SEVERITIES.length]!,
    source: 'opsdeck-bench',
    fingerprint: `bench:${run}:${SEQ}:${i}`,
  }));
  const template = JSON.stringify({ alerts });
  let seq = 0;
  const nextBody = () => template.replaceAll(SEQ, String(seq++));
  return {
    nextBody,
    requests: (tally) => [
      {
        method: 'POST',
        path: BULK_PATH,
        headers: { 'content-type': 'application/json' },
        body: nextBody(),
        setupRequest: (request) => ({ ...request, body: nextBody() }),
        onResponse: (status, body) => {
          if (status !== 200) return;
          const data = (JSON.parse(body) as { data?: { created?: number; failed?: number; results?: Array<{ status: string; error?: unknown }> } }).data;
          tally.created += data?.created ?? 0;
          tally.failed += data?.failed ?? 0;
          if (data?.failed && tally.firstError === undefined) tally.firstError = data.results?.find((r) => r.status === 'failed')?.error;
        },
      },
    ],
  };
}

/** One bulk request before the load: it answers 200 and creates every item. */
export async function probeBulk(url: string, headers: Record<string, string>, body: string): Promise<void> {
  const response = await fetch(`${url}${BULK_PATH}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
  const answer = (await response.json().catch(() => undefined)) as { data?: { created?: number; failed?: number; results?: Array<{ error?: unknown }> } } | undefined;
  if (response.status !== 200 || answer?.data?.created !== ALERTS_PER_REQUEST) {
    const firstError = answer?.data?.results?.find((r) => r.error)?.error;
    throw new Error(`Opsdeck: POST ${BULK_PATH} answered ${response.status}, created ${answer?.data?.created} of ${ALERTS_PER_REQUEST}: ${JSON.stringify(firstError ?? answer).slice(0, 500)}`);
  }
}
