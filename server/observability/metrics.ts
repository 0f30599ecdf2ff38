// Prometheus metrics of one app (`getMetrics`, GET /metrics), on a registry of its own: tests that start
// several apps in one process never share a series. Three kinds of figure:
//   - events counted where they happen, through the small hooks the pipeline, the webhook deliverer and the
//     workers call (`answered`, `rateLimited`, `replayed`, `webhookAttempt`, `workerRun`);
//   - state read at scrape time (the database pools, Redis, the outbox's backlog, open event streams), each
//     bounded by a timeout, so a slow backend makes a figure NaN, never a hung scrape;
//   - Node.js's default process metrics (prom-client's collectDefaultMetrics).
// The counting is plain numbers in arrays made at start-up, one slot per operation and status class, so an
// answered request costs a map lookup and a few additions (no label hashing). prom-client is loaded, and the
// registry made, at the first scrape: it formats these figures (as collectors of the registry) with its own.
// Requests are labelled by operationId, method and status class only, so the series are bounded by the contract.
// Several processes on one port (a cluster: WEB_CONCURRENCY) answer the whole of them, relayed by the primary
// (cluster-metrics.ts).
import cluster from 'node:cluster';
import type { Registry } from 'prom-client';
import { sql } from 'kysely';
import { poolStats, withDatabaseDeadline, withTimeout, type DatabaseHandle } from '../db/database.ts';
import type { OpenStreams } from '../http/event-stream.ts';
import type { OperationEntry } from '../http/operation-table.ts';
import type { Logger } from '../logger.ts';
import { COLLECT, COLLECT_TIMEOUT_MS, HELLO, PART, RELAY, SCRAPE, WHOLE } from './cluster-metrics.ts';

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const WEBHOOK_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the request pipeline tells the metrics (server/http/pipeline.ts). */
export interface RequestMetrics {
  /** A request of `op` was answered with `status`; `startedAt` is its `performance.now()` at the start. */
  answered(op: OperationEntry, status: number, startedAt: number): void;
  /** A request was refused 429 by the limiter of `op` (its tier, or its named limiter). */
  rateLimited(op: OperationEntry, tier: string | null): void;
  /** A request was answered by replaying the answer kept for its Idempotency-Key. */
  replayed(op: OperationEntry): void;
  /** A request that matched no operation (404), a method its path does not have (405), or a malformed path was answered `status`. */
  unmatched(status: number): void;
}

/** How a webhook attempt ended: a 2xx answer, another answer, or none (refused target, connection error, timeout). */
export type WebhookAttemptOutcome = 'succeeded' | 'http_error' | 'no_answer';

/** What is read at scrape time. */
export interface MetricSources {
  database: DatabaseHandle;
  /** The process's Redis client (a node or a cluster), when REDIS_URL is set. */
  redis: { ping(): Promise<unknown> } | undefined;
  streams: Pick<OpenStreams, 'size'>;
  /** The longest a scrape waits for one figure (the outbox query, a Redis ping). */
  timeoutMs: number;
  log: Logger;
}

type Labels = Record<string, string>;
/** One line of the exposition: prom-client's value shape (`metricName` for a histogram's `_bucket`, `_sum`, `_count`). */
interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}
interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** How the figures of several processes of a cluster merge (prom-client's aggregators); `sum` unless said. */
  aggregator: 'sum' | 'first' | 'min' | 'max';
  samples(): Sample[] | Promise<Sample[]>;
}

/** One histogram series: its count, sum and (non-cumulative) bucket counts. */
class Cells {
  count = 0;
  sum = 0;
  readonly #bounds: readonly number[];
  readonly #buckets: Float64Array;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#buckets = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.count += 1;
    this.sum += value;
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i += 1) {
      if (value <= bounds[i]!) {
        this.#buckets[i]! += 1;
        return;
      }
    }
  }

  samples(name: string, labels: Labels): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += this.#buckets[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(bound) }, value: cumulative });
    });
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: this.count });
    out.push({ metricName: `${name}_sum`, labels, value: this.sum });
    out.push({ metricName: `${name}_count`, labels, value: this.count });
    return out;
  }
}

/** Counts by a small set of label values (tiers, outcomes, workers), each kept with its labels. */
class Tally {
  readonly #byKey = new Map<string, { labels: Labels; value: number }>();

  inc(key: string, labels: () => Labels): void {
    const entry = this.#byKey.get(key);
    if (entry) entry.value += 1;
    else this.#byKey.set(key, { labels: labels(), value: 1 });
  }

  samples(): Sample[] {
    return [...this.#byKey.values()].map(({ labels, value }) => ({ labels, value }));
  }
}

interface OperationSeries {
  readonly labels: readonly Labels[];
  /** By status class (index 0: 1xx … 4: 5xx); a request's count is its histogram's. */
  readonly cells: readonly Cells[];
}

export class Metrics implements RequestMetrics {
  readonly #operations = new Map<OperationEntry, OperationSeries>();
  readonly #refusals = new Tally();
  readonly #replays = new Tally();
  readonly #unmatched = new Tally();
  readonly #attempts = new Map<WebhookAttemptOutcome, Cells>();
  readonly #workerRuns = new Tally();
  readonly #families: Family[] = [];
  #registry: Promise<Registry> | undefined;
  /** In a cluster worker: whether the primary relays scrapes (cluster-metrics.ts), and the scrapes waiting for it. */
  #relayed = false;
  #asked = 0;
  readonly #waiting = new Map<number, (text: string | undefined) => void>();

  constructor(operations: Iterable<OperationEntry>) {
    for (const op of operations) {
      const method = op.method.toUpperCase();
      this.#operations.set(op, {
        labels: STATUS_CLASSES.map((status_class) => ({ operation_id: op.operationId, method, status_class })),
        cells: STATUS_CLASSES.map(() => new Cells(REQUEST_BUCKETS)),
      });
    }
    const series = [...this.#operations.values()];
    this.#family('opsdeck_http_requests_total', 'counter', 'Requests answered, by operationId, method and status class (2xx, 3xx, 4xx, 5xx).', () =>
      // Every operation's classes but 1xx (which none answers), at 0 until called: rates and absences work from the first scrape.
      series.flatMap(({ labels, cells }) => cells.flatMap((cell, i) => (i === 0 && cell.count === 0 ? [] : [{ labels: labels[i]!, value: cell.count }]))),
    );
    this.#family(
      'opsdeck_http_request_duration_seconds',
      'histogram',
      'Time from a request reaching its operation to its answer (a live event stream: to its end), by operationId, method and status class.',
      () => series.flatMap(({ labels, cells }) => cells.flatMap((cell, i) => (cell.count === 0 ? [] : cell.samples('opsdeck_http_request_duration_seconds', labels[i]!)))),
    );
    this.#family('opsdeck_rate_limit_refusals_total', 'counter', 'Requests refused 429 RATE_LIMIT_EXCEEDED, by tier (anonymous, authenticated, premium, admin) or named limiter (login).', () =>
      this.#refusals.samples(),
    );
    this.#family(
      'opsdeck_http_unmatched_requests_total',
      'counter',
      'Requests that matched no operation of the contract (404), asked a path for a method it does not have (405), or could not be routed (400), by status.',
      () => this.#unmatched.samples(),
    );
    this.#family('opsdeck_idempotency_replays_total', 'counter', 'Requests answered by replaying the answer kept for their Idempotency-Key, by operationId.', () => this.#replays.samples());
    this.#family(
      'opsdeck_webhook_attempts_total',
      'counter',
      'Webhook delivery attempts made by this process, by outcome: succeeded (2xx), http_error (another status), no_answer (refused target, connection error, timeout).',
      () => [...this.#attempts].map(([outcome, cells]) => ({ labels: { outcome }, value: cells.count })),
    );
    this.#family('opsdeck_webhook_attempt_duration_seconds', 'histogram', 'Latency of webhook delivery attempts, from connecting to the end of the answer (or the failure), by outcome.', () =>
      [...this.#attempts].flatMap(([outcome, cells]) => cells.samples('opsdeck_webhook_attempt_duration_seconds', { outcome })),
    );
    this.#family('opsdeck_worker_runs_total', 'counter', 'Runs of the background workers of this process (sweeper, retention, outbox dispatcher), by worker and outcome (ok, failed).', () =>
      this.#workerRuns.samples(),
    );
    if (cluster.isWorker) this.#listenToPrimary();
  }

  answered(op: OperationEntry, status: number, startedAt: number): void {
    const series = this.#operations.get(op);
    if (!series) return;
    const index = status >= 500 ? 4 : status >= 400 ? 3 : status >= 300 ? 2 : status >= 200 ? 1 : 0;
    series.cells[index]!.observe((performance.now() - startedAt) / 1000);
  }

  rateLimited(op: OperationEntry, tier: string | null): void {
    const name = op.rateLimit.kind === 'limiter' ? op.rateLimit.name : (tier ?? 'anonymous');
    this.#refusals.inc(name, () => ({ tier: name }));
  }

  replayed(op: OperationEntry): void {
    this.#replays.inc(op.operationId, () => ({ operation_id: op.operationId }));
  }

  unmatched(status: number): void {
    this.#unmatched.inc(String(status), () => ({ status: String(status) }));
  }

  webhookAttempt(attempt: { statusCode: number | null; succeeded: boolean; latencyMs: number }): void {
    const outcome: WebhookAttemptOutcome = attempt.succeeded ? 'succeeded' : attempt.statusCode === null ? 'no_answer' : 'http_error';
    let cells = this.#attempts.get(outcome);
    if (!cells) this.#attempts.set(outcome, (cells = new Cells(WEBHOOK_BUCKETS)));
    cells.observe(attempt.latencyMs / 1000);
  }

  workerRun(worker: string, ok: boolean): void {
    const outcome = ok ? 'ok' : 'failed';
    this.#workerRuns.inc(`${worker} ${outcome}`, () => ({ worker, outcome }));
  }

  /** The figures read at scrape time; called once, when the process's database, Redis and streams exist. */
  observe(sources: MetricSources): void {
    const { database, redis, streams, timeoutMs, log } = sources;
    this.#family(
      'opsdeck_db_info',
      'gauge',
      'The database backend of this process (postgresql, or pglite: the embedded one, one connection), as a label; always 1.',
      () => [{ labels: { backend: database.backend }, value: 1 }],
      'first',
    );
    // The embedded database has one connection, which the change feed shares.
    const pools = database.side === database.db ? { main: database.db } : { main: database.db, feed: database.side };
    const pool = (name: string, help: string, read: (stats: ReturnType<typeof poolStats>) => number | undefined) =>
      this.#family(name, 'gauge', help, () =>
        Object.entries(pools).flatMap(([pool, db]) => {
          const value = read(poolStats(db));
          return value === undefined ? [] : [{ labels: { pool }, value }];
        }),
      );
    pool('opsdeck_db_pool_connections', 'Open connections of a database pool (main: requests and workers; feed: the change feed). The embedded database has one.', (s) => s.total);
    pool('opsdeck_db_pool_idle_connections', 'Idle connections of a PostgreSQL pool (not reported for the embedded database).', (s) => s.idle);
    pool('opsdeck_db_pool_waiting_requests', 'Requests for a connection queued because every connection of the PostgreSQL pool is busy (not reported for the embedded database).', (s) => s.waiting);
    pool('opsdeck_db_pool_max_connections', 'The most connections a database pool opens (DB_POOL_MAX for main).', (s) => s.max);

    if (redis) {
      this.#family('opsdeck_redis_up', 'gauge', `1 when Redis answered a PING within ${timeoutMs} ms at this scrape, else 0 (only when REDIS_URL is set).`, async () => {
        const up = await withTimeout(redis.ping(), timeoutMs, 'redis ping timed out').then(
          () => 1,
          () => 0,
        );
        return [{ labels: {}, value: up }];
      }, 'min');
    }

    // Both outbox figures from one query per scrape, on the undispatched events' partial index.
    let backlog: Promise<{ count: number; age: number }> | undefined;
    const readBacklog = () =>
      (backlog ??= withDatabaseDeadline(
        () =>
          withTimeout(
            sql<{ count: string | number; age: string | number | null }>`
              select count(*) as count, extract(epoch from (now() - min(occurred_at))) as age from events where dispatched_at is null`.execute(database.db),
            timeoutMs,
            `the outbox query took more than ${timeoutMs} ms`,
          ),
        () => false,
        timeoutMs,
      )
        .then(({ rows }) => ({ count: Number(rows[0]?.count ?? 0), age: Math.max(0, Number(rows[0]?.age ?? 0)) }))
        .catch((err: unknown) => {
          log.warn({ err: (err as Error).message }, 'metrics: the outbox backlog could not be read');
          return { count: Number.NaN, age: Number.NaN };
        })
        .finally(() => setImmediate(() => (backlog = undefined))));
    // One outbox for every process: the figure is taken once, not summed.
    this.#family(
      'opsdeck_outbox_backlog_events',
      'gauge',
      'Events written to the outbox and not yet dispatched (NaN when the database did not answer in time).',
      async () => [{ labels: {}, value: (await readBacklog()).count }],
      'max',
    );
    this.#family(
      'opsdeck_outbox_oldest_event_age_seconds',
      'gauge',
      'Age of the oldest event not yet dispatched from the outbox; 0 when there is none (NaN when the database did not answer in time).',
      async () => [{ labels: {}, value: (await readBacklog()).age }],
      'max',
    );
    this.#family('opsdeck_event_streams_open', 'gauge', 'Live event streams (GET /api/v1/events) open on this process.', () => [{ labels: {}, value: streams.size }]);
  }

  /** The scrape, in the text exposition format (0.0.4): this process's, or a relaying cluster's whole. */
  async scrape(): Promise<string> {
    if (this.#relayed) {
      const whole = await this.#askPrimary();
      if (whole !== undefined) return whole;
    }
    return (await this.#registryOnce()).metrics();
  }

  #registryOnce(): Promise<Registry> {
    return (this.#registry ??= this.#makeRegistry());
  }

  #family(name: string, type: Family['type'], help: string, samples: Family['samples'], aggregator: Family['aggregator'] = 'sum'): void {
    this.#families.push({ name, type, help, samples, aggregator });
  }

  /** A cluster worker: answers its primary's requests for its figures, and takes the whole it relays. */
  #listenToPrimary(): void {
    process.on('message', (message: { type?: unknown; id?: unknown; text?: unknown }) => {
      if (message?.type === RELAY) this.#relayed = true;
      else if (message?.type === COLLECT) {
        this.#registryOnce()
          .then((registry) => registry.getMetricsAsJSON())
          .then(
            (metrics) => process.send?.({ type: PART, id: message.id, metrics }),
            () => process.send?.({ type: PART, id: message.id, metrics: [] }),
          );
      } else if (message?.type === WHOLE && typeof message.id === 'number') {
        this.#waiting.get(message.id)?.(typeof message.text === 'string' ? message.text : undefined);
      }
    });
    process.send?.({ type: HELLO });
  }

  /** The whole cluster's figures from the primary; undefined when it does not answer in time (this process's are answered then). */
  #askPrimary(): Promise<string | undefined> {
    const id = (this.#asked += 1);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), COLLECT_TIMEOUT_MS + 1_000);
      const done = (text: string | undefined) => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        resolve(text);
      };
      this.#waiting.set(id, done);
      process.send?.({ type: SCRAPE, id });
    });
  }

  /** prom-client, its registry of this app's families and Node's default metrics, made at the first scrape. */
  async #makeRegistry(): Promise<Registry> {
    const client = await import('prom-client');
    const registry = new client.Registry();
    for (const family of this.#families) {
      const { name, help, type, aggregator } = family;
      // A collector of the registry: prom-client formats what `get` answers, as it does its own metrics'.
      registry.registerMetric({ name, help, type, aggregator, get: async () => ({ name, help, type, aggregator, values: await family.samples() }) } as never);
    }
    client.collectDefaultMetrics({ register: registry });
    return registry;
  }
}
