// `npm start`: turns on Node's compile cache, then runs the server (run.ts). With the cache, a start reuses the
// code V8 compiled (and the TypeScript Node stripped) the last time, which takes about a third off the time to
// load Opsdeck's modules; the cache lives in the system's temporary directory and is rebuilt when a file changes.
// A module of its own because the cache only helps modules loaded after it is on. Without DATABASE_URL, the
// embedded database begins opening before the rest of the server loads (db/embedded.ts): the two overlap.
import { enableCompileCache } from 'node:module';

enableCompileCache();
try {
  const { loadConfig } = await import('./config.ts');
  const config = loadConfig();
  // WEB_CONCURRENCY above 1: this process is the primary, which forks the server processes (web-concurrency.ts).
  if (config.webConcurrency > 1 && (await import('node:cluster')).default.isPrimary) (await import('./web-concurrency.ts')).runPrimary(config);
  else {
    if (!config.databaseUrl) (await import('./db/embedded.ts')).openEmbeddedEarly(config.pgliteDir);
    await (await import('./run.ts')).run(config);
  }
} catch (err) {
  // A bad configuration value (config.ts's ConfigError, which names its variable: read here, or checked against the
  // spec as the server starts) is one log line and exit 1: a value to fix, not a stack to read. Anything else is
  // thrown on, as before.
  const { ConfigError } = await import('./config.ts');
  if (!(err instanceof ConfigError)) throw err;
  const { createLogger } = await import('./logger.ts');
  createLogger('info').fatal({ variable: err.variable }, `Opsdeck cannot start: ${err.message}`);
  process.exit(1);
}
