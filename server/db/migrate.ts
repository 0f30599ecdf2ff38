// `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the embedded database) and exits.
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { openDatabase } from './database.ts';
import { migrateToLatest } from './migrator.ts';

const config = loadConfig();
const log = createLogger(config.logLevel === 'warn' ? 'info' : config.logLevel);
const database = await openDatabase({
  url: config.databaseUrl,
  pgliteDir: config.pgliteDir,
  poolMax: 1,
  timeoutMs: config.dbTimeoutMs,
  transactionPooling: config.dbTransactionPooling,
  log,
});
try {
  await migrateToLatest(database.db, log);
  log.info({ backend: database.backend }, 'database is up to date');
} finally {
  await database.close();
}
