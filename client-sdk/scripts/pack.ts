// `npm pack` / `npm publish` of the SDK: `prepack` builds dist/ and writes the manifest that goes into the
// tarball; `postpack` puts the repository's manifest back.
//
// Why the packed manifest differs from the repository's: inside the monorepo the `opsdeck-source` export
// condition points at src/index.ts, so the server, the tests and the scripts run the SDK from its sources
// with no build. Those sources cannot ship: they import the contract's types from ../generated/, outside the
// package, which the build copies into dist/ instead (scripts/build.ts). So the source condition is kept in
// the repository only, and the tarball's `exports` names only files the tarball holds (dist/), as
// test/sdk/package.test.ts checks. The repository's scripts (they run scripts/*.ts, which are not shipped)
// are left out of the packed manifest too.
//
// The repository's manifest is kept in .tmp/ while npm reads the packed one; a pack that failed before
// `postpack` leaves it there, and the next `prepack` (or `postpack`) restores it first.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const pkg = resolve(import.meta.dirname, '..');
const manifestPath = join(pkg, 'package.json');
const kept = join(pkg, '.tmp', 'package.repository.json');
/** The export condition that only the monorepo sets (`--conditions=opsdeck-source`, tsconfig's customConditions, vitest). */
const SOURCE_CONDITION = 'opsdeck-source';

type Exports = string | { [key: string]: Exports };

/** `exports` without the source condition, at any depth. */
function withoutSourceCondition(exports: Exports): Exports {
  if (typeof exports === 'string') return exports;
  return Object.fromEntries(Object.entries(exports).filter(([key]) => key !== SOURCE_CONDITION).map(([key, value]) => [key, withoutSourceCondition(value)]));
}

/** The manifest as published, from the repository's. */
function packedManifest(manifest: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(manifest)
      .filter(([key]) => key !== 'scripts' && key !== 'devDependencies')
      .map(([key, value]) => [key, key === 'exports' ? withoutSourceCondition(value as Exports) : value]),
  );
}

function restore(): void {
  if (!existsSync(kept)) return;
  renameSync(kept, manifestPath);
}

const step = process.argv[2];
if (step === 'prepack') {
  restore();
  execFileSync(process.execPath, [join(pkg, 'scripts', 'build.ts')], { stdio: 'inherit' });
  const text = readFileSync(manifestPath, 'utf8');
  mkdirSync(join(pkg, '.tmp'), { recursive: true });
  writeFileSync(kept, text);
  writeFileSync(manifestPath, `${JSON.stringify(packedManifest(JSON.parse(text) as Record<string, unknown>), null, 2)}\n`);
} else if (step === 'postpack') {
  restore();
} else if (step !== undefined) {
  throw new Error(`usage: node scripts/pack.ts prepack|postpack (got ${step})`);
}
