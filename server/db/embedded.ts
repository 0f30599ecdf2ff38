// The embedded PostgreSQL (PGlite) of a start without DATABASE_URL. Two things make its start quick:
// - Opening it takes about a second, most of it compiling its WebAssembly, which V8 does off the main thread:
//   `npm start` (main.ts) begins opening it before it loads the rest of the server, and the two overlap.
// - A new directory would need initdb, five to seven seconds of a first start. `npm install` instead makes a
//   template once (scripts/embedded-template.ts: a fresh cluster with every migration applied, dumped as a
//   tarball into node_modules/.cache), and a new directory is filled from it in about a second. Without the
//   template (it failed to build, or PGlite was upgraded since) the directory is made by initdb as before; a
//   template older than the migrations is brought up to date by the migrator like any database.
// A module with no imports of the server's, so that starting early costs nothing else.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';

export interface Embedded {
  pglite: PGlite;
  /** Whether a new directory was filled from the installed template (rather than by initdb, or already there). */
  fromTemplate: boolean;
}

let template: string | undefined;

/** Where `npm install` puts the template, named by the PGlite version it was made with. */
export function templatePath(): string {
  if (template) return template;
  const modules = new URL('../../node_modules/', import.meta.url);
  const { version } = JSON.parse(readFileSync(new URL('@electric-sql/pglite/package.json', modules), 'utf8')) as { version: string };
  return (template = fileURLToPath(new URL(`.cache/opsdeck/pglite-${version}-template.tar.gz`, modules)));
}

function open(dir: string): Promise<Embedded> {
  return (async () => {
    const { PGlite } = await import('@electric-sql/pglite');
    const inMemory = dir === 'memory://';
    if (!inMemory) mkdirSync(dir, { recursive: true });
    const template = templatePath();
    const fromTemplate = (inMemory || !existsSync(join(dir, 'PG_VERSION'))) && existsSync(template);
    const pglite = await PGlite.create(dir, fromTemplate ? { loadDataDir: new Blob([readFileSync(template)]) } : {});
    return { pglite, fromTemplate };
  })();
}

let early: { dir: string; opening: Promise<Embedded> } | undefined;

/** Begins opening the database in `dir` now; the next `openEmbedded(dir)` takes it. */
export function openEmbeddedEarly(dir: string): void {
  const opening = open(dir);
  // Its failure is reported to whoever takes it; until then it must not count as unhandled.
  opening.catch(() => undefined);
  early = { dir, opening };
}

/** The database in `dir`: the one begun early, if it is that directory's, else a new one. */
export function openEmbedded(dir: string): Promise<Embedded> {
  if (early?.dir === dir) {
    const { opening } = early;
    early = undefined;
    return opening;
  }
  return open(dir);
}
