// The background work of a process, when BACKGROUND_WORKERS is on: the sweeper (silent agents go offline),
// the alert rule evaluator, the outbox dispatcher (events to the stream and to webhook deliveries), the webhook
// deliverer, the scheduler (task schedules that are due), retention (old events with their deliveries, old metric
// samples, old task artifacts) and the hourly metric rollups. Every process of a deployment may run them at once:
// the sweep and the deletions are idempotent, the dispatcher takes turns under an advisory lock, deliveries, due
// schedules and due alert rules are claimed with SKIP LOCKED, and rollups are computed by one process at a time.
import type { Kysely } from 'kysely';
import type { Config } from './config.ts';
import type { Database } from './db/schema.ts';
import type { TaggedCache } from './edge/tagged-cache.ts';
import { policy } from './contract.ts';
import { OutboxDispatcher } from './events/dispatcher.ts';
import type { EventBus } from './events/event-bus.ts';
import type { Logger } from './logger.ts';
import { AlertRuleEvaluator } from './modules/alert-rules/alert-rules.evaluator.ts';
import type { AlertRuleNudger } from './modules/alert-rules/alert-rules.nudger.ts';
import { sweepSilentAgents } from './modules/agent-protocol/agent-protocol.service.ts';
import { deleteSamplesBefore, rollUpMarked } from './modules/inventory/inventory.repository.ts';
import { artifactPolicy } from './modules/task-artifacts/task-artifacts.policy.ts';
import { deleteArtifactsBefore } from './modules/task-artifacts/task-artifacts.repository.ts';
import type { WebhookDeliverer } from './modules/webhooks/webhooks.deliverer.ts';
import { fireDueSchedules, missedAfterMs } from './modules/task-schedules/task-schedules.scheduler.ts';

const RETENTION_EVERY_MS = 10 * 60_000;
/** How often the metric rollups catch up; queries never wait for them (a marked hour is read from the samples). */
const ROLLUP_EVERY_MS = 15_000;
const DAY_MS = 86_400_000;

export interface Workers {
  /** Stops them; attempts in flight are recorded first. */
  stop(): Promise<void>;
}

export interface Retention {
  /** Events (with their deliveries and attempts): `x-webhook-delivery.retention_days`. */
  eventDays: number;
  /** Metric samples: `x-metrics.retention_days`. */
  metricDays: number;
  /** Task artifacts (with their bytes): `x-artifacts.retention_days`. */
  artifactDays: number;
}

/** The retention periods of the spec; `eventDays` as the delivery policy has it (it may be overridden). */
export const retentionOf = (eventDays: number): Retention => ({
  eventDays,
  metricDays: policy<{ retention_days: number }>('x-metrics').retention_days,
  artifactDays: artifactPolicy.retentionDays,
});

/** Told of every run of a worker, and whether it succeeded (the metrics count them). */
export type WorkerRunListener = (worker: string, ok: boolean) => void;

/** Runs `task` every `ms` (first after `ms`), logging failures; never two runs at once. */
function every(ms: number, log: Logger, name: string, task: () => Promise<void>, onRun?: WorkerRunListener): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .then(
        () => onRun?.(name, true),
        (err: unknown) => {
          onRun?.(name, false);
          log.warn({ err: (err as Error).message }, `${name} failed; it tries again`);
        },
      )
      .finally(() => (running = false));
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}

/** Deletes what is past its retention period; answers how much. */
export async function applyRetention(db: Kysely<Database>, dispatcher: OutboxDispatcher, retention: Retention): Promise<{ events: number; metric_samples: number; artifacts: number }> {
  const events = await dispatcher.prune(retention.eventDays);
  const metricSamples = await deleteSamplesBefore(db, new Date(Date.now() - retention.metricDays * DAY_MS));
  const artifacts = await deleteArtifactsBefore(db, new Date(Date.now() - retention.artifactDays * DAY_MS));
  return { events, metric_samples: metricSamples, artifacts };
}

export function startWorkers(
  deps: { db: Kysely<Database>; bus: EventBus; cache: TaggedCache; deliverer: WebhookDeliverer; log: Logger; alertNudger?: Pick<AlertRuleNudger, 'onNudged'>; onRun?: WorkerRunListener },
  config: Pick<Config, 'outboxPollMs' | 'heartbeatTimeoutSeconds' | 'sweepIntervalMs' | 'schedulerTickMs' | 'alertEvaluationIntervalMs'>,
  retention: Retention,
): Workers {
  const { db, bus, cache, deliverer, log, alertNudger, onRun } = deps;
  const dispatcher = new OutboxDispatcher(db, bus, log, {
    pollMs: config.outboxPollMs,
    onDeliveriesQueued: () => deliverer.wake(),
    ...(onRun ? { onRun: (ok: boolean) => onRun('dispatcher', ok) } : {}),
  });
  dispatcher.start();
  deliverer.start();
  log.info('background workers started: offline sweeper, outbox dispatcher, webhook deliverer, scheduler, alert rule evaluator, retention, metric rollups');

  const stopSweeper = every(config.sweepIntervalMs, log, 'sweeper', async () => {
    const swept = await sweepSilentAgents(db, cache, config.heartbeatTimeoutSeconds);
    if (swept.offline > 0 || swept.failed > 0) log.info(swept, 'sweeper: silent agents marked offline, their running tasks failed');
  }, onRun);
  const graceMs = missedAfterMs(config.schedulerTickMs);
  const stopScheduler = every(config.schedulerTickMs, log, 'scheduler', async () => {
    await fireDueSchedules(db, log, { graceMs });
  }, onRun);
  // Rules fall due every interval, or sooner when metrics of theirs arrive (alert-rules.nudger.ts); the evaluator
  // looks for due rules every 250 ms (one indexed read) and at once when this process nudged.
  const evaluator = new AlertRuleEvaluator(db, log, config.alertEvaluationIntervalMs, onRun ? (ok) => onRun('alert-rules', ok) : undefined);
  evaluator.start();
  if (alertNudger) alertNudger.onNudged = () => evaluator.wake();
  const stopRetention = every(RETENTION_EVERY_MS, log, 'retention', async () => {
    const deleted = await applyRetention(db, dispatcher, retention);
    if (deleted.events > 0 || deleted.metric_samples > 0 || deleted.artifacts > 0) log.info({ ...deleted, ...retention }, 'retention: old events, deliveries, metric samples and task artifacts deleted');
  }, onRun);
  const stopRollups = every(ROLLUP_EVERY_MS, log, 'rollups', async () => {
    await rollUpMarked(db);
  }, onRun);

  return {
    async stop() {
      stopSweeper();
      stopScheduler();
      if (alertNudger) alertNudger.onNudged = undefined;
      await evaluator.stop();
      stopRetention();
      stopRollups();
      await dispatcher.stop();
      await deliverer.stop();
    },
  };
}
