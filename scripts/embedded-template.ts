// `npm install` (postinstall): makes the template a new embedded database is filled from (server/db/embedded.ts):
// a fresh PGlite cluster with every migration applied, dumped as a gzipped tarball into node_modules/.cache. It
// takes initdb's five to seven seconds once, here, instead of on the first `npm start`. Never fails the install:
// without a template the server makes a new directory with initdb, as it always could. Logs are JSON lines.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect } from 'kysely';
import { templatePath } from '../server/db/embedded.ts';
import { migrateToLatest } from '../server/db/migrator.ts';
import { createLogger } from '../server/logger.ts';

const log = createLogger('info');
const target = templatePath();

if (existsSync(target) && !process.argv.includes('--force')) {
  log.info({ template: target }, 'embedded database template: already made (--force makes it again)');
} else {
  const started = performance.now();
  try {
    log.info({ template: target }, 'embedded database template: running initdb and the migrations (a few seconds, once)');
    const pglite = await PGlite.create('memory://');
    const db = new Kysely<unknown>({ dialect: new PGliteDialect({ pglite }) });
    await migrateToLatest(db, log.child({}, { level: 'warn' }));
    const tarball = Buffer.from(await (await pglite.dumpDataDir('gzip')).arrayBuffer());
    await db.destroy();
    mkdirSync(dirname(target), { recursive: true });
    // Written whole, then renamed: a server starting meanwhile never reads half a template.
    writeFileSync(`${target}.partial`, tarball);
    renameSync(`${target}.partial`, target);
    log.info({ template: target, bytes: tarball.length, ms: Math.round(performance.now() - started) }, 'embedded database template: made');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'embedded database template: not made; a first start of the embedded database runs initdb instead');
  }
}
