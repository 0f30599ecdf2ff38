// Metrics of several server processes on one port (Node's cluster: WEB_CONCURRENCY). A scrape of /metrics reaches
// one worker, which on its own knows only its own requests; so the primary relays: the worker that is scraped
// asks the primary, the primary collects every worker's figures (prom-client's JSON form) and merges them with
// prom-client's AggregatorRegistry.aggregate (each metric by its aggregator: counts summed, the outbox's figures
// taken once, Redis up as the lowest), and the scraped worker answers the whole. A worker says it is there
// (`HELLO`, once its metrics exist) and relays only once its primary has answered that it relays (`RELAY`); a
// worker of a primary that does not, or a process that is not a worker, answers its own figures.
//
// The primary calls `relayWorkerMetrics()` once, before or after forking; it loads prom-client only then.
// The worker side is in metrics.ts (`Metrics`), which listens when its process is a cluster worker.
import cluster, { type Worker } from 'node:cluster';

/** A worker → the primary, once its metrics exist and listen: do you relay? */
export const HELLO = 'opsdeck:metrics:hello';
/** The primary → a worker that said HELLO: it relays scrapes. */
export const RELAY = 'opsdeck:metrics:relay';
/** A scraped worker → the primary: the whole, please. */
export const SCRAPE = 'opsdeck:metrics:scrape';
/** The primary → every worker: your figures, please. */
export const COLLECT = 'opsdeck:metrics:collect';
/** A worker → the primary: its figures (`getMetricsAsJSON()`). */
export const PART = 'opsdeck:metrics:part';
/** The primary → the scraped worker: the merged exposition text. */
export const WHOLE = 'opsdeck:metrics:whole';

/** How long the primary waits for the workers' figures; a worker that does not answer in time is left out. */
export const COLLECT_TIMEOUT_MS = 2_000;

interface Message {
  type?: unknown;
  id?: unknown;
  metrics?: unknown;
}

/** Makes this cluster primary relay its workers' scrapes (see the top of this file). */
export async function relayWorkerMetrics(): Promise<void> {
  if (!cluster.isPrimary) throw new Error('relayWorkerMetrics() is for the cluster primary');
  const { AggregatorRegistry } = await import('prom-client');
  let serial = 0;
  const waiting = new Map<number, { parts: unknown[][]; pending: Set<number>; finish: () => void }>();

  cluster.on('message', (worker: Worker, message: Message) => {
    if (message?.type === HELLO) {
      if (worker.isConnected()) worker.send({ type: RELAY });
      return;
    }
    if (message?.type === PART && typeof message.id === 'number') {
      const round = waiting.get(message.id);
      if (!round) return;
      if (Array.isArray(message.metrics)) round.parts.push(message.metrics as unknown[]);
      round.pending.delete(worker.id);
      if (round.pending.size === 0) round.finish();
      return;
    }
    if (message?.type !== SCRAPE) return;
    const asked = message.id;
    const id = (serial += 1);
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const round = { parts: [] as unknown[][], pending: new Set(workers.map((w) => w.id)), finish: () => {} };
    round.finish = () => {
      clearTimeout(timer);
      waiting.delete(id);
      AggregatorRegistry.aggregate(round.parts as never)
        .metrics()
        .then(
          (text) => worker.isConnected() && worker.send({ type: WHOLE, id: asked, text }),
          (err: unknown) => worker.isConnected() && worker.send({ type: WHOLE, id: asked, error: (err as Error).message }),
        );
    };
    const timer = setTimeout(() => round.finish(), COLLECT_TIMEOUT_MS);
    timer.unref();
    waiting.set(id, round);
    for (const w of workers) w.send({ type: COLLECT, id });
    if (round.pending.size === 0) round.finish();
  });
}
