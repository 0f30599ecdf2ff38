// WEB_CONCURRENCY=N: N server processes on one host, sharing one port through Node's `cluster` (the primary
// accepts connections and hands them to the workers in turn), so one machine's cores all serve the API. This
// primary serves nothing itself and loads none of the server: it forks the workers, restarts one that dies (with a
// backoff, so a worker that cannot start does not spin), and on SIGTERM or SIGINT passes SIGTERM on to each and
// waits for their graceful stop. Worker 1 runs the background workers as BACKGROUND_WORKERS says (and the demo's
// simulated hosts); the others serve the API only. Every worker signs tokens with one JWT_SECRET (the primary makes
// one for them when it is not set), and every log line of a worker carries `worker` and `pid`.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Config } from './config.ts';
import { createLogger } from './logger.ts';
import { relayWorkerMetrics } from './observability/cluster-metrics.ts';

/** A worker's slot (1…N): a restarted worker takes the slot, and the duties, of the one it replaces. */
interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  startedAt: number;
  /** Consecutive deaths soon after a start, for the backoff. */
  crashes: number;
  restart: NodeJS.Timeout | undefined;
}

/** A worker that lived this long before dying is restarted at once; earlier deaths back off. */
const HEALTHY_AFTER_MS = 30_000;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30_000;

export function runPrimary(config: Config): void {
  const log = createLogger(config.logLevel);
  const env = process.env;
  const jwtSecret = env.JWT_SECRET || randomBytes(32).toString('hex');
  if (!env.JWT_SECRET) log.warn('JWT_SECRET is not set: the workers sign access tokens with one random key, which ends with this primary');
  const slots: Slot[] = Array.from({ length: config.webConcurrency }, (_, i) => ({ index: i + 1, worker: undefined, startedAt: 0, crashes: 0, restart: undefined }));
  let stopping = false;

  const fork = (slot: Slot) => {
    slot.restart = undefined;
    const first = slot.index === 1;
    const worker = cluster.fork({
      OPSDECK_WORKER: String(slot.index),
      JWT_SECRET: jwtSecret,
      BACKGROUND_WORKERS: first ? (env.BACKGROUND_WORKERS ?? '') : 'false',
      OPSDECK_DEMO_AGENTS: first ? (env.OPSDECK_DEMO_AGENTS ?? '') : '0',
    });
    slot.worker = worker;
    slot.startedAt = Date.now();
    worker.once('exit', (code, signal) => {
      slot.worker = undefined;
      if (stopping) return;
      slot.crashes = Date.now() - slot.startedAt < HEALTHY_AFTER_MS ? slot.crashes + 1 : 1;
      const delay = slot.crashes <= 1 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (slot.crashes - 2));
      log.error({ worker: slot.index, pid: worker.process.pid, code, signal, restart_in_ms: delay }, 'a worker died; it is restarted');
      slot.restart = setTimeout(() => fork(slot), delay);
    });
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'signal received: the workers stop gracefully');
    for (const slot of slots) clearTimeout(slot.restart);
    const running = slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
    const exited = running.map((worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))));
    for (const worker of running) worker.process.kill('SIGTERM');
    // A worker that does not stop within its own bounds (readiness delay, grace, closing) is killed.
    const limit = setTimeout(() => {
      for (const worker of running) {
        if (!worker.isDead()) {
          log.error({ pid: worker.process.pid }, 'a worker did not stop in time; killed');
          worker.process.kill('SIGKILL');
        }
      }
    }, config.shutdownDelayMs + config.shutdownGraceMs + 10_000);
    void Promise.all(exited).then(() => {
      clearTimeout(limit);
      log.info('stopped');
      process.exit(0);
    });
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));

  log.info({ workers: config.webConcurrency, pid: process.pid }, `web concurrency: ${config.webConcurrency} worker processes share port ${config.port}`);
  // A scrape of /metrics reaches one worker: this primary relays it to every worker and merges their figures.
  relayWorkerMetrics().catch((err: unknown) => log.warn({ err: (err as Error).message }, "metrics: the workers' figures cannot be merged; each answers its own"));
  for (const slot of slots) fork(slot);
}
