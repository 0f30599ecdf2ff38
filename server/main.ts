// `npm start`: config → dependencies → listen → graceful shutdown on SIGTERM/SIGINT.
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startServer } from './server.ts';

const config = loadConfig();
const log = createLogger(config.logLevel);

try {
  const running = await startServer(config, log);
  const base = config.publicUrl ?? running.url;
  log.info(
    { api: `${base}/api/v1`, docs: `${base}/docs`, spec: `${base}/openapi.json`, mock: 'npm run mock → http://127.0.0.1:4010' },
    `Opsdeck is listening on ${base}`,
  );
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'signal received');
      running.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
} catch (err) {
  log.fatal({ err }, 'Opsdeck could not start');
  process.exit(1);
}
