// Prometheus metrics of one app (`getMetrics`, GET /metrics), on a registry of its own: tests that start
// several apps in one process never share a series. Three kinds of figure:
//   - events counted where they happen, through the small hooks the pipeline, the webhook deliverer and the
//     workers call (`answered`, `rateLimited`, `replayed`, `webhookAttempt`, `workerRun`);
//   - state read at scrape time by `collect()` callbacks (the database pools, Redis, the outbox's backlog,
//     open event streams), each bounded by a timeout, so a slow backend makes a figure NaN, never a hung scrape;
//   - Node.js's default process metrics (prom-client's collectDefaultMetrics).
// Requests are labelled by operationId, method and status class only, so the number of series is bounded by
// the contract. Each operation's counters are made at start-up (at 0: rates and absences work from the first
// scrape) and its label objects once; an answered request is one counter increment and one histogram observation.
import { sql } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { poolStats, withDatabaseDeadline, withTimeout, type DatabaseHandle } from '../db/database.ts';
import type { OpenStreams } from '../http/event-stream.ts';
import type { OperationEntry } from '../http/operation-table.ts';
import type { Logger } from '../logger.ts';

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
type RequestLabels = 'operation_id' | 'method' | 'status_class';

/** What the request pipeline tells the metrics (server/http/pipeline.ts). */
export interface RequestMetrics {
  /** A request of `op` was answered with `status`; `startedAt` is its `performance.now()` at the start. */
  answered(op: OperationEntry, status: number, startedAt: number): void;
  /** A request was refused 429 by the limiter of `op` (its tier, or its named limiter). */
  rateLimited(op: OperationEntry, tier: string | null): void;
  /** A request was answered by replaying the answer kept for its Idempotency-Key. */
  replayed(op: OperationEntry): void;
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

interface OperationSeries {
  /** By status class (index 0: 1xx … 4: 5xx). */
  readonly counts: Counter.Internal[];
  readonly durations: Array<Histogram.Internal<RequestLabels>>;
}

export class Metrics implements RequestMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<RequestLabels>;
  readonly #durations: Histogram<RequestLabels>;
  readonly #refusals: Counter<'tier'>;
  readonly #replays: Counter<'operation_id'>;
  readonly #attempts: Counter<'outcome'>;
  readonly #attemptSeconds: Histogram<'outcome'>;
  readonly #workerRuns: Counter<'worker' | 'outcome'>;
  readonly #series = new Map<OperationEntry, OperationSeries>();

  constructor(operations: Iterable<OperationEntry>) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'opsdeck_http_requests_total',
      help: 'Requests answered, by operationId, method and status class (2xx, 3xx, 4xx, 5xx).',
      labelNames: ['operation_id', 'method', 'status_class'],
      registers,
    });
    this.#durations = new Histogram({
      name: 'opsdeck_http_request_duration_seconds',
      help: 'Time from a request reaching its operation to its answer (a live event stream: to its end), by operationId, method and status class.',
      labelNames: ['operation_id', 'method', 'status_class'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#refusals = new Counter({
      name: 'opsdeck_rate_limit_refusals_total',
      help: 'Requests refused 429 RATE_LIMIT_EXCEEDED, by tier (anonymous, authenticated, premium, admin) or named limiter (login).',
      labelNames: ['tier'],
      registers,
    });
    this.#replays = new Counter({
      name: 'opsdeck_idempotency_replays_total',
      help: 'Requests answered by replaying the answer kept for their Idempotency-Key, by operationId.',
      labelNames: ['operation_id'],
      registers,
    });
    this.#attempts = new Counter({
      name: 'opsdeck_webhook_attempts_total',
      help: 'Webhook delivery attempts made by this process, by outcome: succeeded (2xx), http_error (another status), no_answer (refused target, connection error, timeout).',
      labelNames: ['outcome'],
      registers,
    });
    this.#attemptSeconds = new Histogram({
      name: 'opsdeck_webhook_attempt_duration_seconds',
      help: 'Latency of webhook delivery attempts, from connecting to the end of the answer (or the failure), by outcome.',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#workerRuns = new Counter({
      name: 'opsdeck_worker_runs_total',
      help: 'Runs of the background workers of this process (sweeper, retention, outbox dispatcher), by worker and outcome (ok, failed).',
      labelNames: ['worker', 'outcome'],
      registers,
    });
    for (const op of operations) {
      const labels = STATUS_CLASSES.map((status_class) => ({ operation_id: op.operationId, method: op.method.toUpperCase(), status_class }));
      const counts = labels.map((l) => this.#requests.labels(l));
      // Shown at 0 from the start, except 1xx, which no operation answers.
      for (const count of counts.slice(1)) count.inc(0);
      this.#series.set(op, { counts, durations: labels.map((l) => this.#durations.labels(l)) });
    }
    collectDefaultMetrics({ register: this.registry });
  }

  answered(op: OperationEntry, status: number, startedAt: number): void {
    const series = this.#series.get(op);
    if (!series) return;
    const index = Math.min(Math.max(Math.floor(status / 100), 1), 5) - 1;
    series.counts[index]!.inc();
    series.durations[index]!.observe((performance.now() - startedAt) / 1000);
  }

  rateLimited(op: OperationEntry, tier: string | null): void {
    this.#refusals.labels({ tier: op.rateLimit.kind === 'limiter' ? op.rateLimit.name : (tier ?? 'anonymous') }).inc();
  }

  replayed(op: OperationEntry): void {
    this.#replays.labels({ operation_id: op.operationId }).inc();
  }

  webhookAttempt(attempt: { statusCode: number | null; succeeded: boolean; latencyMs: number }): void {
    const outcome: WebhookAttemptOutcome = attempt.succeeded ? 'succeeded' : attempt.statusCode === null ? 'no_answer' : 'http_error';
    this.#attempts.labels({ outcome }).inc();
    this.#attemptSeconds.labels({ outcome }).observe(attempt.latencyMs / 1000);
  }

  workerRun(worker: string, ok: boolean): void {
    this.#workerRuns.labels({ worker, outcome: ok ? 'ok' : 'failed' }).inc();
  }

  /** The figures read at scrape time; called once, when the process's database, Redis and streams exist. */
  observe(sources: MetricSources): void {
    const registers = [this.registry];
    const { database, redis, streams, timeoutMs, log } = sources;
    new Gauge({
      name: 'opsdeck_db_info',
      help: 'The database backend of this process (postgresql, or pglite: the embedded one, one connection), as a label; always 1.',
      labelNames: ['backend'],
      registers,
    })
      .labels({ backend: database.backend })
      .set(1);
    // The embedded database has one connection, which the change feed shares.
    const pools = database.side === database.db ? { main: database.db } : { main: database.db, feed: database.side };
    const poolGauge = (name: string, help: string, read: (stats: ReturnType<typeof poolStats>) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers,
        collect() {
          this.reset();
          for (const [pool, db] of Object.entries(pools)) {
            const value = read(poolStats(db));
            if (value !== undefined) this.labels({ pool }).set(value);
          }
        },
      });
    poolGauge('opsdeck_db_pool_connections', 'Open connections of a database pool (main: requests and workers; feed: the change feed). The embedded database has one.', (s) => s.total);
    poolGauge('opsdeck_db_pool_idle_connections', 'Idle connections of a PostgreSQL pool (not reported for the embedded database).', (s) => s.idle);
    poolGauge('opsdeck_db_pool_waiting_requests', 'Requests for a connection queued because every connection of the PostgreSQL pool is busy (not reported for the embedded database).', (s) => s.waiting);
    poolGauge('opsdeck_db_pool_max_connections', 'The most connections a database pool opens (DB_POOL_MAX for main).', (s) => s.max);

    if (redis) {
      new Gauge({
        name: 'opsdeck_redis_up',
        help: `1 when Redis answered a PING within ${timeoutMs} ms at this scrape, else 0 (only when REDIS_URL is set).`,
        registers,
        async collect() {
          const up = await withTimeout(redis.ping(), timeoutMs, 'redis ping timed out').then(
            () => 1,
            () => 0,
          );
          this.set(up);
        },
      });
    }

    // Both figures from one query per scrape, on the undispatched events' partial index.
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
    new Gauge({
      name: 'opsdeck_outbox_backlog_events',
      help: 'Events written to the outbox and not yet dispatched (NaN when the database did not answer in time).',
      registers,
      async collect() {
        this.set((await readBacklog()).count);
      },
    });
    new Gauge({
      name: 'opsdeck_outbox_oldest_event_age_seconds',
      help: 'Age of the oldest event not yet dispatched from the outbox; 0 when there is none (NaN when the database did not answer in time).',
      registers,
      async collect() {
        this.set((await readBacklog()).age);
      },
    });

    new Gauge({
      name: 'opsdeck_event_streams_open',
      help: 'Live event streams (GET /api/v1/events) open on this process.',
      registers,
      collect() {
        this.set(streams.size);
      },
    });
  }

  /** The scrape, in the text exposition format (0.0.4). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
