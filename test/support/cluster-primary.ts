// A cluster primary for tests: forks FIXTURE_WORKERS server processes (server/main.ts, with this process's
// environment) sharing PORT, relays their metrics (server/observability/cluster-metrics.ts), and on SIGTERM
// passes it on to each and exits once they have stopped.
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { relayWorkerMetrics } from '../../server/observability/cluster-metrics.ts';

cluster.setupPrimary({ exec: fileURLToPath(new URL('../../server/main.ts', import.meta.url)), execArgv: ['--conditions=opsdeck-source'] });
await relayWorkerMetrics();
const count = Number(process.env.FIXTURE_WORKERS ?? 2);
for (let i = 0; i < count; i += 1) cluster.fork();
process.once('SIGTERM', () => {
  const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  let left = workers.length;
  if (left === 0) process.exit(0);
  for (const worker of workers) {
    worker.once('exit', () => (left -= 1) === 0 && process.exit(0));
    worker.process.kill('SIGTERM');
  }
});
