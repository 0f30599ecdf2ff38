// `npm start` runs TypeScript from a cache of stripped modules (server/typescript-cache.mjs), so a start with a
// current cache never loads Node's type stripper (amaro, ~18 MB per process). A module runs from the cache when
// its entry is there, is stripped and cached when it is not, and an edit makes a new entry.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedPath } from '../../server/typescript-cache.mjs';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'opsdeck-ts-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a module through the hook as `npm start` does; answers what it printed. */
function run(file: string): { value: unknown; stripperLoaded: boolean } {
  const result = spawnSync(process.execPath, ['--import=./server/typescript-cache.mjs', file], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  expect(result.status, result.stderr).toBe(0);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

const probe = (value: string) => `const value: string = ${JSON.stringify(value)};
console.log(JSON.stringify({ value, stripperLoaded: process.moduleLoadList.some((m: string) => m.includes('amaro')) }));
`;

describe('the stripped TypeScript cache', () => {
  it('strips and keeps a module it has not seen, then runs it from the cache without the stripper', () => {
    const file = join(dir, `probe-${process.pid}.ts`);
    const source = probe(`first ${Date.now()}`);
    writeFileSync(file, source);
    const entry = cachedPath(Buffer.from(source));
    rmSync(entry, { force: true });

    const first = run(file);
    expect(first.value).toMatch(/^first /);
    expect(existsSync(entry)).toBe(true);
    expect(readFileSync(entry, 'utf8')).not.toContain(': string');

    const second = run(file);
    expect(second).toEqual({ value: first.value, stripperLoaded: false });

    // What runs is the cache's entry, not the file stripped again.
    writeFileSync(entry, 'console.log(JSON.stringify({ value: "served from the cache", stripperLoaded: false }));\n');
    expect(run(file).value).toBe('served from the cache');
    rmSync(entry, { force: true });
  });

  it('an edited module gets an entry of its own', () => {
    const file = join(dir, `edited-${process.pid}.ts`);
    writeFileSync(file, probe('before'));
    expect(run(file).value).toBe('before');
    writeFileSync(file, probe('after'));
    expect(run(file).value).toBe('after');
    for (const value of ['before', 'after']) rmSync(cachedPath(Buffer.from(probe(value))), { force: true });
  });
});
