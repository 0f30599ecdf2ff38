// The version verdict, the markdown and JSON reports and the changelog, on fixture pairs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prependSection, renderChangelog } from '../../scripts/spec-diff/changelog.ts';
import { verdict } from '../../scripts/spec-diff/classify.ts';
import { loadSpecFile, type LoadedSpec } from '../../scripts/spec-diff/load.ts';
import { renderJson } from '../../scripts/spec-diff/render-json.ts';
import { renderMarkdown } from '../../scripts/spec-diff/render-markdown.ts';
import { buildReport, type Report } from '../../scripts/spec-diff/report.ts';
import type { Change } from '../../scripts/spec-diff/types.ts';

const fixture = (rule: string, side: 'before' | 'after'): LoadedSpec => loadSpecFile(join(import.meta.dirname, 'fixtures', rule, `${side}.yaml`));
const reportOf = (rule: string): Report => buildReport(fixture(rule, 'before'), fixture(rule, 'after'), { now: new Date('2026-06-01') });
const change = (severity: Change['severity']): Change => ({ rule: 'documentation', severity, resource: 'Items', location: 'operation', message: 'x' });

describe('the version verdict', () => {
  it('fails breaking changes without a major bump and suggests the version', () => {
    const v = verdict([change('breaking')], '1.4.2', '1.5.0');
    expect(v).toMatchObject({ ok: false, required: 'major', actual: 'minor', suggested: '2.0.0' });
    expect(v.message).toContain('/api/vN');
  });

  it('accepts breaking changes with a major bump (a minor one below 1.0.0)', () => {
    expect(verdict([change('breaking')], '1.4.2', '2.0.0').ok).toBe(true);
    expect(verdict([change('breaking')], '0.3.1', '0.4.0').ok).toBe(true);
  });

  it('only advises a minor bump for non-breaking changes', () => {
    expect(verdict([change('non-breaking')], '1.0.0', '1.0.0')).toMatchObject({ ok: true, required: 'minor', suggested: '1.1.0' });
    expect(verdict([change('documentation')], '1.0.0', '1.0.0')).toMatchObject({ ok: true, required: 'patch' });
    expect(verdict([], '1.0.0', '1.0.0')).toMatchObject({ ok: true, required: 'none' });
  });

  it('treats a base without a spec as the first version', () => {
    expect(verdict([change('breaking')], undefined, '1.0.0', true).ok).toBe(true);
  });
});

describe('the markdown report', () => {
  it('gives the verdict and a row per change with its rule', () => {
    const md = renderMarkdown(reportOf('operation-removed-before-sunset'));
    expect(md).toContain('**1 breaking**');
    expect(md).toContain('[!CAUTION]');
    expect(md).toContain('`GET /api/v1/items/{item_id}`');
    expect(md).toContain('its sunset date 2999-12-31 has not passed yet');
    expect(md).toContain('`operation-removed-before-sunset`');
  });

  it('says the removal after the sunset date is fine, and folds documentation away', () => {
    const md = renderMarkdown(reportOf('operation-removed-after-sunset'));
    expect(md).toContain('#### Non-breaking (1)');
    expect(md).toContain('removed after its sunset date 2020-01-01');
    expect(md).not.toContain('#### Breaking');
    expect(renderMarkdown(reportOf('documentation'))).toContain('<details><summary>Documentation only (3)</summary>');
  });

  it('says when nothing changed', () => {
    const same = fixture('documentation', 'before');
    expect(renderMarkdown(buildReport(same, same))).toContain('No changes to the contract.');
  });
});

describe('the JSON report', () => {
  it('has both sides, the counts, the verdict and every change', () => {
    const json = JSON.parse(renderJson(reportOf('security-scopes-added'))) as Report;
    expect(json.summary).toEqual({ breaking: 1, nonBreaking: 0, documentation: 0 });
    expect(json.version).toMatchObject({ ok: false, before: '1.0.0', after: '1.0.0', required: 'major' });
    expect(json.changes[0]).toMatchObject({ rule: 'security-scopes-added', severity: 'breaking', operation: 'GET /api/v1/items', resource: 'items' });
  });
});

describe('the changelog', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'spec-changelog-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('groups by resource, marks breaking changes and leaves documentation out', () => {
    const text = renderChangelog(reportOf('response-property-removed'), new Date('2026-06-01'));
    // A breaking change with info.version left at 1.0.0: titled with the major version it calls for (changelog.test.ts).
    expect(text).toContain('## 2.0.0 (2026-06-01)');
    expect(text).toContain('### items');
    expect(text).toContain('- **Breaking**: `GET /api/v1/items`: response 200 (application/json) `team`: field removed.');
    expect(renderChangelog(reportOf('documentation'))).toContain('No changes for clients.');
  });

  it('puts each new section on top, below the title', () => {
    const file = join(scratch, 'CHANGELOG.md');
    prependSection(file, '## 1.0.0 (2026-01-01)\n\n- first\n');
    prependSection(file, '## 1.1.0 (2026-02-01)\n\n- second\n');
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('# Changelog\n')).toBe(true);
    expect(text.indexOf('## 1.1.0')).toBeLessThan(text.indexOf('## 1.0.0'));
    writeFileSync(file, '# Changelog\n\nIntro.\n');
    prependSection(file, '## 2.0.0 (2026-03-01)\n');
    expect(readFileSync(file, 'utf8')).toBe('# Changelog\n\nIntro.\n\n## 2.0.0 (2026-03-01)\n');
  });
});
