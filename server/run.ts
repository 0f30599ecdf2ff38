// What `npm start` runs (through main.ts, which reads the configuration): dependencies → listen → graceful
// shutdown on SIGTERM/SIGINT.
import { ConfigError, type Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { startTracing, stopTracing, traceLogFields } from './observability/tracing.ts';
import { startServer, type RunningServer } from './server.ts';
import { demoEnrollmentToken } from './auth/bootstrap.ts';

/** The demo's simulated hosts, talking to this server over HTTP through the SDK. */
async function startDemoFleet(running: RunningServer, count: number, log: Logger) {
  const token = await demoEnrollmentToken(running.database.db);
  if (!token) return undefined;
  const { startFleet } = await import('./demo/simulated-fleet.ts');
  const fleet = await startFleet({ baseUrl: running.url, enrollmentToken: token, count, prefix: 'demo', heartbeatMs: 10_000, taskMs: 3_000 });
  log.info({ agents: count, team: 'Platform' }, 'demo: simulated hosts heartbeat and run tasks (OPSDECK_DEMO_AGENTS=0 turns them off)');
  return fleet;
}

export async function run(config: Config): Promise<void> {
  // Traced (OTEL_EXPORTER_OTLP_ENDPOINT set), log lines written inside a span carry its trace_id and span_id.
  const log = createLogger(config.logLevel, config.tracing ? traceLogFields : undefined);
  try {
    if (config.tracing) await startTracing(config.tracing, log);
    const running = await startServer(config, log);
    const base = (config.publicUrl ?? running.url).replace(/\/+$/, '');
    log.info(
      {
        index: `${base}/`,
        api: `${base}/api/v1`,
        docs: `${base}/docs`,
        spec: `${base}/openapi.json`,
        spec_yaml: `${base}/openapi.yaml`,
        asyncapi: `${base}/asyncapi.json`,
        metrics: `${base}/metrics`,
        mock: 'npm run mock → http://127.0.0.1:4010',
      },
      `Opsdeck is listening on ${base}`,
    );
    const fleet = config.demoAgents > 0 ? await startDemoFleet(running, config.demoAgents, log) : undefined;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        log.info({ signal }, 'signal received');
        // The spans not yet exported are sent last, once the requests and workers are over.
        Promise.resolve(fleet?.stop()).then(() => running.stop()).then(() => stopTracing()).then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  } catch (err) {
    // A configuration error is main.ts's to report, as one line naming the variable.
    if (err instanceof ConfigError) throw err;
    log.fatal({ err }, 'Opsdeck could not start');
    process.exit(1);
  }
}
