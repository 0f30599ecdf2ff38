// spec:changelog titles a section with the version its changes call for, as spec:diff's verdict says (a
// breaking change needs a new major version), not with an info.version that was not bumped; and its prose
// counts correctly ("1 documentation-only change").
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderChangelog, sectionVersion } from '../../scripts/spec-diff/changelog.ts';
import { loadSpecFile, type LoadedSpec } from '../../scripts/spec-diff/load.ts';
import { buildReport } from '../../scripts/spec-diff/report.ts';

const fixture = (rule: string, side: 'before' | 'after'): LoadedSpec => loadSpecFile(join(import.meta.dirname, 'fixtures', rule, `${side}.yaml`));
/** A fixture's after side with info.version set (and, optionally, its doc changed further). */
function withVersion(spec: LoadedSpec, version: string, change: (doc: Record<string, any>) => void = () => {}): LoadedSpec {
  const doc = structuredClone(spec.doc) as Record<string, any>;
  doc.info.version = version;
  change(doc);
  return { ...spec, doc };
}
const today = new Date('2026-06-01');

describe('the changelog section title', () => {
  it('is the major version a breaking change calls for when info.version was not bumped (spec:diff fails such a range)', () => {
    const report = buildReport(fixture('response-property-removed', 'before'), withVersion(fixture('response-property-removed', 'after'), '1.1.0'));
    expect(report.version).toMatchObject({ ok: false, required: 'major', suggested: '2.0.0' });
    const text = renderChangelog(report, today);
    expect(text.startsWith('## 2.0.0 (2026-06-01)\n')).toBe(true);
    expect(text).not.toContain('## 1.1.0');
    expect(text).toContain('info.version is 1.1.0 at');
    expect(text).toContain('breaking changes call for 2.0.0 (a major bump)');
    expect(sectionVersion(report).version).toBe('2.0.0');
  });

  it('is info.version when it got the bump the changes call for', () => {
    const bumped = buildReport(fixture('response-property-removed', 'before'), withVersion(fixture('response-property-removed', 'after'), '2.0.0'));
    expect(renderChangelog(bumped, today).startsWith('## 2.0.0 (2026-06-01)\n\nFrom ')).toBe(true);
    expect(sectionVersion(bumped)).toEqual({ version: '2.0.0' });
    const minor = buildReport(fixture('operation-added', 'before'), withVersion(fixture('operation-added', 'after'), '1.1.0'));
    expect(sectionVersion(minor)).toEqual({ version: '1.1.0' });
  });

  it('follows a minor bump that non-breaking changes call for, too, and below 1.0.0 a breaking change is a minor bump', () => {
    const added = buildReport(fixture('operation-added', 'before'), fixture('operation-added', 'after'));
    expect(added.version).toMatchObject({ required: 'minor', actual: 'none' });
    expect(renderChangelog(added, today)).toMatch(new RegExp(`^## ${added.version.suggested!.replace(/\./g, '\\.')} \\(`));
    const zero = buildReport(withVersion(fixture('response-property-removed', 'before'), '0.3.1'), withVersion(fixture('response-property-removed', 'after'), '0.3.1'));
    expect(sectionVersion(zero).version).toBe('0.4.0');
  });
});

describe('the changelog prose', () => {
  it('says "1 documentation-only change" and "it" for one, and plurals for several', () => {
    const before = fixture('documentation', 'before');
    const one = buildReport(before, withVersion(before, String((before.doc.info as { version: string }).version), (doc) => (doc.info.description = 'Another description.')));
    expect(one.summary.documentation).toBe(1);
    const text = renderChangelog(one, today);
    expect(text).toContain('Also 1 documentation-only change (descriptions, examples); `npm run spec:diff` lists it.');
    expect(text).not.toContain('documentation-only changes');
    // Documentation alone does not retitle the section.
    expect(text.startsWith('## 1.0.0 (2026-06-01)\n')).toBe(true);

    const several = buildReport(before, fixture('documentation', 'after'));
    expect(several.summary.documentation).toBeGreaterThan(1);
    expect(renderChangelog(several, today)).toContain(`Also ${several.summary.documentation} documentation-only changes (descriptions, examples); \`npm run spec:diff\` lists them.`);
  });
});
