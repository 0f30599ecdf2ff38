// Gets a bundled spec from the working tree, from a git ref, or from a file. A ref is exported with
// `git archive` (spec/, redocly.yaml, the Redocly plugin it names and the repository modules the plugin
// imports) and bundled by Redocly exactly as `npm run generate` bundles the working tree, with this checkout's
// node_modules; a ref that has no spec/ yet is an empty spec.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { parse } from 'yaml';
import { isObj, type Obj } from './types.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const WORKING_TREE = 'working tree';

export interface LoadedSpec {
  /** The ref as given, or `working tree`. */
  label: string;
  /** The commit's short hash and date, when the spec comes from a ref. */
  commit?: { hash: string; date: string };
  doc: Obj;
  /** No spec/openapi.yaml at that ref (the first commits). */
  empty: boolean;
}

export class RefError extends Error {}

const ARCHIVED = ['spec', 'redocly.yaml', 'scripts/redocly'];

export function emptySpec(): Obj {
  return { openapi: '3.1.0', info: { title: '', version: '0.0.0' }, paths: {} };
}

export function loadSpec(refOrWorkingTree: string | undefined, root = ROOT): LoadedSpec {
  return refOrWorkingTree === undefined || refOrWorkingTree === WORKING_TREE ? loadWorkingTree(root) : loadAtRef(refOrWorkingTree, root);
}

export function loadWorkingTree(root = ROOT): LoadedSpec {
  if (!existsSync(join(root, 'spec/openapi.yaml'))) return { label: WORKING_TREE, doc: emptySpec(), empty: true };
  return { label: WORKING_TREE, doc: bundle(root, root), empty: false };
}

export function loadAtRef(ref: string, root = ROOT): LoadedSpec {
  const hash = git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).trim();
  if (!hash) throw new RefError(`git ref ${JSON.stringify(ref)} is not a commit here (a shallow clone, or a typo?)`);
  const [short = hash, date = ''] = git(root, ['log', '-1', '--format=%h %cs', hash]).trim().split(' ');
  const commit = { hash: short, date };
  const present = ARCHIVED.filter((path) => git(root, ['ls-tree', '--name-only', hash, '--', path]).trim() !== '');
  if (git(root, ['ls-tree', '--name-only', hash, '--', 'spec/openapi.yaml']).trim() === '') {
    return { label: ref, commit, doc: emptySpec(), empty: true };
  }
  const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-spec-diff-'));
  try {
    const tar = execFileSync('git', ['archive', '--format=tar', hash, ...present, ...pluginImports(root, hash)], { cwd: root, maxBuffer: 256 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', scratch], { input: tar });
    // The plugin's own package imports (ajv, …) resolve from this checkout's node_modules.
    if (existsSync(join(root, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
    return { label: ref, commit, doc: bundle(scratch, root), empty: false };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// `from '../x.ts'`, `import '../x.ts'`, `import('../x.ts')` with a relative specifier.
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.\.?\/[^'"]+)\1/g;

/**
 * The repository's modules that the Redocly plugin of a commit imports (scripts/redocly/*.js importing
 * server/extensions.ts, and what that imports in turn), as paths at that commit.
 */
function pluginImports(root: string, hash: string): string[] {
  const exists = (path: string) => git(root, ['ls-tree', '--name-only', hash, '--', path]).trim() === path;
  const queue = git(root, ['ls-tree', '-r', '--name-only', hash, '--', 'scripts/redocly']).split('\n').filter(Boolean);
  const seen = new Set(queue);
  const found: string[] = [];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const [, , specifier] of git(root, ['show', `${hash}:${file}`]).matchAll(RELATIVE_IMPORT)) {
      const path = posix.normalize(posix.join(posix.dirname(file), specifier!));
      if (seen.has(path) || path.startsWith('..') || !exists(path)) continue;
      seen.add(path);
      found.push(path);
      queue.push(path);
    }
  }
  return found;
}

/** A single-file spec (YAML or JSON) used as is: fixtures, or a bundle made elsewhere. */
export function loadSpecFile(file: string): LoadedSpec {
  const doc: unknown = parse(readFileSync(file, 'utf8'));
  if (!isObj(doc)) throw new Error(`${file} is not an OpenAPI document`);
  return { label: file, doc, empty: false };
}

/** Bundles `<dir>/spec/openapi.yaml` with the Redocly of `root`, reading `<dir>/redocly.yaml` when there is one. */
function bundle(dir: string, root: string): Obj {
  const scratch = mkdtempSync(join(tmpdir(), 'opsdeck-spec-bundle-'));
  try {
    const out = join(scratch, 'openapi.json');
    const redocly = join(root, 'node_modules', '.bin', 'redocly');
    execFileSync(process.execPath, [redocly, 'bundle', join(dir, 'spec/openapi.yaml'), '--ext', 'json', '-o', out], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const doc: unknown = JSON.parse(readFileSync(out, 'utf8'));
    if (!isObj(doc)) throw new Error(`the bundle of ${dir}/spec is not an object`);
    return doc;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function git(root: string, args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}
