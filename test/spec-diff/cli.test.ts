// The real CLIs, on this repository: the previous commit against the working tree (an identical spec is
// fine), exit codes for breaking changes with and without a version bump, and a ref that does not exist.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../scripts/spec-diff/report.ts';

const root = resolve(import.meta.dirname, '../..');
const fixtures = join(import.meta.dirname, 'fixtures');
const run = (script: string, args: string[]) =>
  spawnSync(process.execPath, [join(root, 'scripts', script), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

function hasCommit(ref: string): boolean {
  try {
    execFileSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// Each run bundles the spec twice with Redocly (the ref's and the working tree's): seconds each on a busy machine.
describe.skipIf(!hasCommit('HEAD~1'))('spec:diff and spec:changelog on this repository', { timeout: 120_000 }, () => {
  it('compares the previous commit with the working tree', () => {
    const json = run('spec-diff.ts', ['HEAD~1', '--json']);
    expect([0, 1], json.stderr).toContain(json.status);
    const report = JSON.parse(json.stdout) as Report;
    expect(report.base.label).toBe('HEAD~1');
    expect(report.head.label).toBe('working tree');
    expect(report.version.ok).toBe(json.status === 0);
    expect(report.summary.breaking + report.summary.nonBreaking + report.summary.documentation).toBe(report.changes.length);

    const markdown = run('spec-diff.ts', ['HEAD~1']);
    expect(markdown.stdout).toMatch(/^### API contract changes: `HEAD~1` \(\w+, [\d-]+\) → working tree/);
    expect(markdown.stdout).toMatch(report.changes.length === 0 ? /No changes to the contract/ : /info\.version/);
  });

  it('writes the changelog section for the same range', () => {
    const result = run('spec-changelog.ts', ['HEAD~1']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^## \S+ \(\d{4}-\d{2}-\d{2}\)\n\nFrom `\w+` \(/);
  });
});

describe('spec:diff exit codes', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'spec-diff-cli-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const pair = (rule: string) => ['--base-file', join(fixtures, rule, 'before.yaml'), '--head-file', join(fixtures, rule, 'after.yaml')];

  it('is 1 for a breaking change without a major bump, 0 with one', () => {
    expect(run('spec-diff.ts', pair('response-property-removed')).status).toBe(1);
    const bumped = join(scratch, 'after.yaml');
    writeFileSync(bumped, readFileSync(join(fixtures, 'response-property-removed', 'after.yaml'), 'utf8').replace('version: 1.0.0', 'version: 2.0.0'));
    const result = run('spec-diff.ts', ['--base-file', join(fixtures, 'response-property-removed', 'before.yaml'), '--head-file', bumped]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('covers these changes');
  });

  it('is 0 for non-breaking changes, and writes both reports when asked', () => {
    const md = join(scratch, 'report.md');
    const json = join(scratch, 'report.json');
    const result = run('spec-diff.ts', [...pair('operation-added'), '--markdown-out', md, '--json-out', json]);
    expect(result.status).toBe(0);
    expect(readFileSync(md, 'utf8')).toBe(result.stdout);
    expect((JSON.parse(readFileSync(json, 'utf8')) as Report).changes[0]?.rule).toBe('operation-added');
  });

  it('is 2 for a ref that is not a commit', () => {
    const result = run('spec-diff.ts', ['no-such-ref-anywhere']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('no-such-ref-anywhere');
  });
});
