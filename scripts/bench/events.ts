// The events section of the bench: the path from a change to its consumers. In the bench process, a
// webhook receiver (node:http, answers 204, records when each delivery arrived and its body's `data.id`)
// registered for `alert.triggered`, and one live stream (`GET /api/v1/events?channels=alerts`, through the
// SDK's subscribeEvents) recording when each event arrived. Then:
//   bulk     N alerts (`--events`) through POST /api/v1/alerts/bulk, 1,000 per request, one request at a
//            time, each request's answer timed; then a wait until every alert has arrived on the stream and
//            at the receiver (a progress line every second, a timeout);
//   trickle  50 single alerts (POST /api/v1/alerts), one at a time, each waited for on the stream and at the
//            receiver before the next; a random pause before each, so they do not fall into step with the
//            dispatcher's poll, whose interval single-event latency shows.
// Latency is from the answer to the alert's request (its batch's, in bulk) to the event's arrival; rates
// count from the first request sent to the last answer (accepted) or the last arrival (consumers). Each
// alert must arrive exactly once on each path: duplicates (webhooks are at least once) and missing ones are
// counted, not failed. The outbox is left to drain before the section starts (the bulk section fills it).
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { subscribeEvents } from '@opsdeck/sdk';
import pg from 'pg';
import { loadConfig } from '../../server/config.ts';
import { listenOnLoopback } from './listen.ts';
import { log } from './log.ts';
import type { ServerName, ServerUnderTest } from './servers.ts';

export const EVENTS_BATCH = 1_000;
export const TRICKLE_ALERTS = 50;
export const EVENTS_BULK_PATH = '/api/v1/alerts/bulk';
export const EVENTS_SINGLE_PATH = '/api/v1/alerts';
export const EVENTS_STREAM_PATH = '/api/v1/events?channels=alerts';
const HOOK_PATH = '/opsdeck-webhook';
const SEVERITIES = ['info', 'warning', 'critical'] as const;
/** The wait for one trickle alert on both paths. */
const TRICKLE_TIMEOUT_MS = 10_000;
/** The wait for the outbox to drain before the section starts. */
const DRAIN_TIMEOUT_MS = 120_000;

export interface LatencyFigures {
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  latency_max_ms: number | null;
}

export interface ArrivalFigures extends LatencyFigures {
  /** Alerts of the run that arrived (at least once). */
  received: number;
  /** Arrivals beyond the first, over all alerts of the run. */
  duplicates: number;
  /** Alerts of the run that never arrived (before the timeout). */
  missing: number;
}

export interface EventsReport {
  server: ServerName;
  /** Alerts raised in bulk (`--events`). */
  alerts: number;
  batch_size: number;
  /** The dispatcher's poll of the outbox (OUTBOX_POLL_MS); it wakes the webhook deliverer when it queues deliveries. */
  outbox_poll_ms: number | null;
  /** Events still undispatched when the section began (left by an earlier section), waited for first. */
  outbox_backlog_at_start: number;
  accepted: {
    requests: number;
    alerts_created: number;
    alerts_failed: number;
    /** From the first request sent to the last answer. */
    duration_s: number;
    alerts_per_s: number;
    request_p50_ms: number | null;
    request_max_ms: number | null;
  };
  stream: ArrivalFigures & {
    /** Arrivals per second, from the first request sent to the last arrival. */
    events_per_s: number;
    /** Last arrival after the last answer. */
    lag_after_last_answer_ms: number | null;
    /** Connections made beyond the first (the SDK resumes with Last-Event-ID). */
    reconnects: number;
  };
  webhooks: ArrivalFigures & {
    deliveries_per_s: number;
    lag_after_last_answer_ms: number | null;
  };
  trickle: {
    alerts: number;
    stream: ArrivalFigures;
    webhooks: ArrivalFigures;
  };
  /** The bulk wait or a trickle alert ran out of time (then `missing` counts what did not arrive). */
  timed_out: boolean;
}

export interface EventsOptions {
  server: ServerUnderTest;
  /** The server's configuration beyond the bench's fixed settings (to read its outbox poll). */
  config: Record<string, string>;
  databaseUrl: string;
  token: string;
  teamId: string;
  agentIds: readonly string[];
  alerts: number;
}

/** Resolves the waits on the next arrival, wherever it came from. */
class Bell {
  #waiters: Array<() => void> = [];
  ring(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
  /** The next ring, or `ms`, whichever comes first. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, ms));
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** When each alert id arrived on one path (performance.now()): the first arrival, and how many in all. */
class Arrivals {
  readonly first = new Map<string, number>();
  readonly counts = new Map<string, number>();
  readonly #bell: Bell;
  constructor(bell: Bell) {
    this.#bell = bell;
  }
  record(id: string, at: number): void {
    if (!this.first.has(id)) this.first.set(id, at);
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.#bell.ring();
  }
  arrivedOf(ids: readonly string[]): number {
    let n = 0;
    for (const id of ids) if (this.first.has(id)) n += 1;
    return n;
  }
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: readonly number[], p: number): number | null =>
  sorted.length === 0 ? null : round1(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);

function latencies(values: number[]): LatencyFigures {
  const sorted = values.toSorted((a, b) => a - b);
  return { latency_p50_ms: percentile(sorted, 50), latency_p99_ms: percentile(sorted, 99), latency_max_ms: percentile(sorted, 100) };
}

/** Latency (answer → first arrival), duplicates and missing of `ids` on one path. */
function arrivalFigures(ids: readonly string[], answeredAt: ReadonlyMap<string, number>, arrivals: Arrivals): ArrivalFigures {
  const lat: number[] = [];
  let duplicates = 0;
  for (const id of ids) {
    const at = arrivals.first.get(id);
    if (at === undefined) continue;
    lat.push(at - answeredAt.get(id)!);
    duplicates += arrivals.counts.get(id)! - 1;
  }
  return { received: lat.length, duplicates, missing: ids.length - lat.length, ...latencies(lat) };
}

function lastArrival(ids: readonly string[], arrivals: Arrivals): number | undefined {
  let last: number | undefined;
  for (const id of ids) {
    const at = arrivals.first.get(id);
    if (at !== undefined && (last === undefined || at > last)) last = at;
  }
  return last;
}

async function api(url: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

/** Undispatched events in the outbox. */
async function outboxBacklog(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>('select count(*) as n from events where dispatched_at is null');
  return Number(rows[0]?.n ?? 0);
}

/** Waits until the dispatcher has emptied the outbox (an earlier section's alerts); answers the backlog found. */
async function drainOutbox(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    const found = await outboxBacklog(client);
    if (found === 0) return 0;
    log.info('events: waiting for the outbox to drain before the section', { undispatched: found });
    const started = performance.now();
    let left = found;
    let reported = started;
    while (left > 0) {
      if (performance.now() - started > DRAIN_TIMEOUT_MS) {
        log.warn('events: the outbox did not drain in time; measuring anyway', { undispatched: left, waited_ms: DRAIN_TIMEOUT_MS });
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      left = await outboxBacklog(client);
      if (performance.now() - reported >= 1000) {
        reported = performance.now();
        log.info('events: outbox draining', { undispatched: left });
      }
    }
    if (left === 0) log.info('events: the outbox is empty', { waited_ms: Math.round(performance.now() - started) });
    return found;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The receiver: answers every request 204 at once; records the deliveries of `alert.triggered` by `data.id`. */
async function startReceiver(arrivals: Arrivals): Promise<{ url: string; requests: () => number; stop(): Promise<void> }> {
  let requests = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      requests += 1;
      res.writeHead(204).end();
      if ((req.url ?? '').split('?')[0] !== HOOK_PATH || req.headers['x-opsdeck-event'] !== 'alert.triggered') return;
      try {
        const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { id?: unknown } }).data?.id;
        if (typeof id === 'string') arrivals.record(id, at);
      } catch {
        // not JSON: not a delivery of this run
      }
    });
  });
  const listening = await listenOnLoopback(server, async () => {});
  return { url: listening.url, requests: () => requests, stop: listening.stop };
}

function bulkBody(teamId: string, agentIds: readonly string[], run: string, seq: number, size: number): string {
  const alerts = Array.from({ length: size }, (_, i) => ({
    team_id: teamId,
    ...(i % 2 === 0 && agentIds.length > 0 ? { agent_id: agentIds[(seq * size + i / 2) % agentIds.length]! } : {}),
    title: `Bench event ${seq}.${i}: disk /var above 90%`,
    severity: SEVERITIES[i % SEVERITIES.length]!,
    source: 'opsdeck-bench',
    fingerprint: `bench-events:${run}:${seq}:${i}`,
  }));
  return JSON.stringify({ alerts });
}

/**
 * Waits until every id has arrived on both paths, or `timeoutMs` passed (answers false then); with `label`,
 * a progress line every second.
 */
async function waitForAll(ids: readonly string[], stream: Arrivals, hooks: Arrivals, bell: Bell, timeoutMs: number, label?: string): Promise<boolean> {
  const started = performance.now();
  const deadline = started + timeoutMs;
  let nextProgress = started + 1000;
  // Once arrived, an id stays arrived: each path's scan only moves forward.
  let s = 0;
  let h = 0;
  for (;;) {
    while (s < ids.length && stream.first.has(ids[s]!)) s += 1;
    while (h < ids.length && hooks.first.has(ids[h]!)) h += 1;
    if (s === ids.length && h === ids.length) return true;
    const now = performance.now();
    if (label && now >= nextProgress) {
      log.info(label, { stream: stream.arrivedOf(ids), webhooks: hooks.arrivedOf(ids), of: ids.length, elapsed_s: Math.round((now - started) / 100) / 10 });
      nextProgress += 1000;
    }
    if (now >= deadline) return false;
    await bell.wait(Math.min(deadline, label ? nextProgress : deadline) - now);
  }
}

function outboxPollMs(config: Record<string, string>): number | null {
  try {
    return loadConfig({ NODE_ENV: 'production', ...config }).outboxPollMs;
  } catch {
    return null;
  }
}

export async function measureEvents(o: EventsOptions): Promise<EventsReport> {
  const { server, token, teamId } = o;
  const backlog = await drainOutbox(o.databaseUrl);

  const bell = new Bell();
  const stream = new Arrivals(bell);
  const hooks = new Arrivals(bell);
  const receiver = await startReceiver(hooks);
  let webhookId: string | undefined;
  const stopper = new AbortController();
  let opens = 0;
  try {
    const created = await api(server.url, 'POST', '/api/v1/webhooks', token, {
      url: `${receiver.url}${HOOK_PATH}`,
      events: ['alert.triggered'],
      team_id: teamId,
      description: 'opsdeck bench: events section',
    });
    webhookId = (created.json as { data?: { id?: string } } | undefined)?.data?.id;
    if (created.status !== 201 || !webhookId) {
      throw new Error(`Opsdeck: POST /api/v1/webhooks answered ${created.status}: ${JSON.stringify(created.json).slice(0, 500)} (is WEBHOOK_ALLOW_PRIVATE_TARGETS on?)`);
    }
    log.info('events: webhook registered', { webhook_id: webhookId, receiver: receiver.url });

    // The stream is live once its answer is in: the server listens to the bus before it answers.
    const opened = Promise.withResolvers<void>();
    const subscription = subscribeEvents(
      { baseUrl: server.url, token, retries: false },
      {
        channels: ['alerts'],
        teamId,
        signal: stopper.signal,
        onOpen: () => {
          opens += 1;
          if (opens > 1) log.warn('events: the stream reconnected', { connections: opens });
          opened.resolve();
        },
        onEvent: (event) => {
          if (event.event === 'alert.triggered') stream.record(event.data.id, performance.now());
        },
        onError: (error, reconnect) => {
          log.warn('events: the stream failed', { error: String(error), retry_in_ms: reconnect?.retryInMs });
          if (!reconnect) opened.reject(error instanceof Error ? error : new Error(String(error)));
        },
      },
    );
    const openTimer = setTimeout(() => opened.reject(new Error('the event stream did not open within 10 s')), 10_000);
    try {
      await opened.promise;
    } finally {
      clearTimeout(openTimer);
    }
    log.info('events: stream open', { path: EVENTS_STREAM_PATH });

    // Bulk: one request at a time; each created alert is timed from its request's answer.
    const run = randomBytes(4).toString('hex');
    const answeredAt = new Map<string, number>();
    const bulkIds: string[] = [];
    const requestMs: number[] = [];
    let failed = 0;
    let firstError: unknown;
    log.info('events: raising alerts', { alerts: o.alerts, batch: EVENTS_BATCH });
    const bulkStart = performance.now();
    let lastAnswer = bulkStart;
    for (let seq = 0, left = o.alerts; left > 0; seq += 1, left -= EVENTS_BATCH) {
      const size = Math.min(EVENTS_BATCH, left);
      const sent = performance.now();
      const answer = await api(server.url, 'POST', EVENTS_BULK_PATH, token, bulkBody(teamId, o.agentIds, run, seq, size));
      const at = performance.now();
      lastAnswer = at;
      requestMs.push(at - sent);
      const data = (answer.json as { data?: { failed?: number; results?: Array<{ status: string; id?: string; error?: unknown }> } } | undefined)?.data;
      if (answer.status !== 200 || !data?.results) {
        throw new Error(`Opsdeck: POST ${EVENTS_BULK_PATH} answered ${answer.status}: ${JSON.stringify(answer.json).slice(0, 500)}`);
      }
      for (const result of data.results) {
        if (result.status === 'created' && result.id) {
          answeredAt.set(result.id, at);
          bulkIds.push(result.id);
        } else {
          failed += 1;
          firstError ??= result.error;
        }
      }
    }
    if (failed > 0) log.warn('events: some alerts failed', { failed, first_error: firstError });
    const acceptS = (lastAnswer - bulkStart) / 1000;
    log.info('events: alerts accepted', { created: bulkIds.length, failed, alerts_per_s: Math.round(bulkIds.length / acceptS) });

    // Generous: some 50 deliveries/s at least, and never under a minute.
    const timeoutMs = Math.max(60_000, bulkIds.length * 20);
    const complete = await waitForAll(bulkIds, stream, hooks, bell, timeoutMs, 'events: waiting for arrivals');
    if (!complete) log.warn('events: not everything arrived in time', { timeout_ms: timeoutMs, stream: stream.arrivedOf(bulkIds), webhooks: hooks.arrivedOf(bulkIds), of: bulkIds.length });
    else log.info('events: every alert arrived on the stream and at the receiver', { ms_after_last_answer: Math.round(performance.now() - lastAnswer) });
    const rate = (arrivals: Arrivals) => {
      const last = lastArrival(bulkIds, arrivals);
      return {
        perS: last === undefined ? 0 : Math.round(arrivals.arrivedOf(bulkIds) / ((last - bulkStart) / 1000)),
        lag: last === undefined ? null : Math.round(last - lastAnswer),
      };
    };
    const streamRate = rate(stream);
    const hookRate = rate(hooks);

    // Trickle: one alert at a time, each waited for on both paths.
    const pollMs = outboxPollMs(o.config);
    const trickleIds: string[] = [];
    let trickleTimedOut = false;
    log.info('events: trickle', { alerts: TRICKLE_ALERTS, outbox_poll_ms: pollMs });
    for (let i = 0; i < TRICKLE_ALERTS; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ((pollMs ?? 200) + 100)));
      const answer = await api(server.url, 'POST', EVENTS_SINGLE_PATH, token, {
        team_id: teamId,
        title: `Bench trickle ${i}: load above 8`,
        severity: 'warning',
        source: 'opsdeck-bench',
      });
      const at = performance.now();
      const id = (answer.json as { data?: { id?: string } } | undefined)?.data?.id;
      if (answer.status !== 201 || !id) throw new Error(`Opsdeck: POST ${EVENTS_SINGLE_PATH} answered ${answer.status}: ${JSON.stringify(answer.json).slice(0, 500)}`);
      answeredAt.set(id, at);
      trickleIds.push(id);
      if (!(await waitForAll([id], stream, hooks, bell, TRICKLE_TIMEOUT_MS))) {
        log.warn('events: a trickle alert did not arrive in time; the trickle stops', { alert_id: id, stream: stream.first.has(id), webhook: hooks.first.has(id) });
        trickleTimedOut = true;
        break;
      }
    }
    const trickle = { alerts: trickleIds.length, stream: arrivalFigures(trickleIds, answeredAt, stream), webhooks: arrivalFigures(trickleIds, answeredAt, hooks) };
    log.info('events: trickle done', { stream_p50_ms: trickle.stream.latency_p50_ms, webhooks_p50_ms: trickle.webhooks.latency_p50_ms });

    subscription.close();
    const requestLatency = latencies(requestMs);
    return {
      server: server.name,
      alerts: o.alerts,
      batch_size: EVENTS_BATCH,
      outbox_poll_ms: pollMs,
      outbox_backlog_at_start: backlog,
      accepted: {
        requests: requestMs.length,
        alerts_created: bulkIds.length,
        alerts_failed: failed,
        duration_s: Math.round(acceptS * 100) / 100,
        alerts_per_s: acceptS > 0 ? Math.round(bulkIds.length / acceptS) : 0,
        request_p50_ms: requestLatency.latency_p50_ms,
        request_max_ms: requestLatency.latency_max_ms,
      },
      stream: { ...arrivalFigures(bulkIds, answeredAt, stream), events_per_s: streamRate.perS, lag_after_last_answer_ms: streamRate.lag, reconnects: Math.max(0, opens - 1) },
      webhooks: { ...arrivalFigures(bulkIds, answeredAt, hooks), deliveries_per_s: hookRate.perS, lag_after_last_answer_ms: hookRate.lag },
      trickle,
      timed_out: !complete || trickleTimedOut,
    };
  } finally {
    stopper.abort();
    if (webhookId) {
      // Deleting it drops what is still pending, so nothing is sent to the receiver once it is closed.
      await api(server.url, 'DELETE', `/api/v1/webhooks/${webhookId}`, token).catch(() => {});
    }
    await receiver.stop();
  }
}
