// The embedded PostgreSQL (PGlite) of a start without DATABASE_URL. Opening it takes about a second, most of it
// compiling its WebAssembly, which V8 does off the main thread: `npm start` (main.ts) therefore begins opening it
// before it loads the rest of the server, and the two overlap. A module of its own, with no other imports, so
// that starting early costs nothing else.
import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';

let early: { dir: string; opening: Promise<PGlite> } | undefined;

function open(dir: string): Promise<PGlite> {
  return (async () => {
    const { PGlite } = await import('@electric-sql/pglite');
    if (dir !== 'memory://') mkdirSync(dir, { recursive: true });
    return PGlite.create(dir);
  })();
}

/** Begins opening the database in `dir` now; the next `openEmbedded(dir)` takes it. */
export function openEmbeddedEarly(dir: string): void {
  const opening = open(dir);
  // Its failure is reported to whoever takes it; until then it must not count as unhandled.
  opening.catch(() => undefined);
  early = { dir, opening };
}

/** The database in `dir`: the one begun early, if it is that directory's, else a new one. */
export function openEmbedded(dir: string): Promise<PGlite> {
  if (early?.dir === dir) {
    const { opening } = early;
    early = undefined;
    return opening;
  }
  return open(dir);
}
