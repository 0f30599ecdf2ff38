// Child entry: Opsdeck itself, started as main.ts would (production config, the access log at info, pool of 10), plus
// what the parent adds: the JWT secret and first administrator, and the edge switched on (Redis) or off.
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer } from '../../server/server.ts';
import { serveUnderBench } from './child-protocol.ts';

await serveUnderBench(async ({ databaseUrl, config: extra }) => {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'info',
    DB_POOL_MAX: '10',
    ...extra,
  });
  const running = await startServer(config, createLogger(config.logLevel));
  return { url: running.url, stop: () => running.stop() };
});
