// The error catalogue (the spec's ErrorCode) lists what the server sends: a code no code path raises is a
// promise to clients that nothing keeps, so each code must appear, as a string, in the server's source.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spec } from '../../server/contract.ts';

const serverDir = resolve(import.meta.dirname, '../../server');
const source = readdirSync(serverDir, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
  .map((entry) => readFileSync(join(entry.parentPath, entry.name), 'utf8'))
  .join('\n');

const catalogue = (spec.components!.schemas!.ErrorCode as { oneOf: Array<{ const: string }> }).oneOf.map((entry) => entry.const);

describe('the error catalogue', () => {
  it('has codes', () => expect(catalogue.length).toBeGreaterThan(20));
  it.each(catalogue)('%s is raised somewhere in the server', (code) => {
    expect(source).toMatch(new RegExp(`['"\`]${code}['"\`]`));
  });
});
