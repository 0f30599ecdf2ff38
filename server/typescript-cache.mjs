// Loaded with `node --import` before any TypeScript (`npm start`), so it is JavaScript itself.
//
// Node runs Opsdeck's TypeScript by stripping the types as each module loads (amaro, Node's bundled SWC
// compiled to WebAssembly). That costs every process about 18 MB of memory for the stripper, whatever the
// compile cache holds, and the stripping time of every module at every start. This hook serves each
// TypeScript module from a cache of its stripped JavaScript instead (node_modules/.cache/opsdeck/stripped/,
// one file per module, named by a hash of the TypeScript source and the Node version), so a start with a
// current cache never loads the stripper. A module not in the cache (edited since) is stripped, by Node's own
// public `stripTypeScriptTypes`, and cached for the next start. Types are replaced by blanks, not removed, so
// line and column numbers (stack traces) are unchanged, and `import.meta.url` stays the .ts file's own.
// Node has no option that does this (its compile cache keeps V8's code, not the stripped source, and still
// loads the stripper); a build step to JavaScript would change how every script and test runs.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';

export const cacheDir = fileURLToPath(new URL('../node_modules/.cache/opsdeck/stripped/', import.meta.url));

/** Where the stripped JavaScript of this TypeScript source is kept. */
export function cachedPath(source) {
  return `${cacheDir}${createHash('sha256').update(process.version).update(source).digest('base64url')}.js`;
}

/** Strips `source` (a Buffer of TypeScript) and keeps the result; answers the JavaScript. */
export function strip(source) {
  // `stripTypeScriptTypes` warns once per process that it is experimental; what it does is what Node does to
  // every .ts file it runs, so the warning is not passed on (it would be the one line of a start that is not JSON).
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  let js;
  try {
    js = stripTypeScriptTypes(source.toString('utf8'), { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
  const target = cachedPath(source);
  mkdirSync(cacheDir, { recursive: true });
  // Written whole, then renamed: a process starting meanwhile never reads half a module.
  writeFileSync(`${target}.${process.pid}`, js);
  renameSync(`${target}.${process.pid}`, target);
  return js;
}

registerHooks({
  load(url, context, nextLoad) {
    if (!url.startsWith('file:') || !url.endsWith('.ts') || url.includes('/node_modules/')) return nextLoad(url, context);
    const source = readFileSync(fileURLToPath(url));
    const cached = cachedPath(source);
    return { format: 'module', source: existsSync(cached) ? readFileSync(cached) : strip(source), shortCircuit: true };
  },
});
