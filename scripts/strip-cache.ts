// `npm install` (postinstall): fills the cache of stripped TypeScript that `npm start` runs from
// (server/typescript-cache.mjs) for every module of server/ and scripts/, and drops entries no current file
// has, so the first start already runs without Node's type stripper. A start also fills what is missing, so
// this only makes the first one as light as the next.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, cachedPath, strip } from '../server/typescript-cache.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const started = performance.now();
const kept = new Set<string>();
let stripped = 0;
for (const dir of ['server', 'scripts']) {
  for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const source = readFileSync(join(entry.parentPath, entry.name));
    const cached = cachedPath(source);
    kept.add(basename(cached));
    if (!existsSync(cached)) {
      strip(source);
      stripped += 1;
    }
  }
}
let dropped = 0;
for (const name of readdirSync(cacheDir)) {
  if (!kept.has(name)) {
    rmSync(join(cacheDir, name), { force: true });
    dropped += 1;
  }
}
console.log(JSON.stringify({ level: 'info', msg: 'stripped TypeScript cache: ready', modules: kept.size, stripped, dropped, ms: Math.round(performance.now() - started) }));
