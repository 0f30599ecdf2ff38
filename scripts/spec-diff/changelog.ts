// The client-facing summary of a comparison: one section, grouped by resource, breaking changes first
// and marked, documentation-only changes counted but not listed.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Bump } from './classify.ts';
import { RULES, type Category } from './rules.ts';
import { groupChanges, type Group, type Report, type Side } from './report.ts';

const ORDER: Category[] = ['added', 'changed', 'deprecated', 'removed'];
const WORD: Record<Category, string> = { added: 'Added', changed: 'Changed', deprecated: 'Deprecated', removed: 'Removed' };
const TITLE = '# Changelog';
const INTRO =
  'What changed in the Opsdeck API for its clients, newest first. New sections come from\n' +
  '`npm run spec:changelog -- <from-ref> <to-ref> --prepend CHANGELOG.md` (the contract in `spec/` at both refs);\n' +
  'breaking changes are marked **Breaking**.';

const RANK: Record<Bump, number> = { none: 0, patch: 1, minor: 2, major: 3 };

/**
 * The version a section is titled with: the head's info.version, unless the changes for clients call for a
 * bigger bump than it got (spec:diff's verdict: breaking changes need a new major version, other changes a
 * minor one); then the version they call for, with a note, so that a release with breaking changes is never
 * titled with the old major version. Documentation-only changes keep the head's version.
 */
export function sectionVersion(report: Report): { version: string; note?: string } {
  const { required, actual, suggested, after } = report.version;
  const head = report.head.version ?? 'unversioned';
  if (report.base.empty || !suggested || RANK[required] < RANK.minor || RANK[actual] >= RANK[required]) return { version: head };
  const why = required === 'major' ? 'breaking changes call' : 'these changes call';
  return { version: suggested, note: `info.version is ${after ?? '?'} at ${commitLabel(report.head)}; ${why} for ${suggested} (a ${required} bump), which titles this section.` };
}

/** `1 documentation-only change`, `3 documentation-only changes`. */
function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

export function renderChangelog(report: Report, today = new Date()): string {
  const date = report.head.commit?.date ?? today.toISOString().slice(0, 10);
  const { version, note } = sectionVersion(report);
  const from = report.base.empty ? `${commitLabel(report.base)}, before the contract existed` : commitLabel(report.base, `version ${report.base.version ?? '?'}`);
  const lines = [`## ${version} (${date})`, '', `From ${from} to ${commitLabel(report.head)}.`, ''];
  if (note) lines.push(note, '');
  const groups = groupChanges(report.changes).filter((g) => g.change.severity !== 'documentation');
  if (groups.length === 0) lines.push('No changes for clients.', '');
  const resources = [...new Set(groups.map((g) => g.change.resource))].sort((a, b) =>
    a === 'General' ? 1 : b === 'General' ? -1 : a.localeCompare(b),
  );
  for (const resource of resources) {
    lines.push(`### ${resource}`, '');
    const mine = groups.filter((g) => g.change.resource === resource);
    const breaking = mine.filter((g) => g.change.severity === 'breaking');
    for (const g of breaking) lines.push(`- **Breaking**: ${sentence(g)}`);
    for (const category of ORDER) {
      for (const g of mine) {
        if (g.change.severity !== 'breaking' && RULES[g.change.rule].category === category) lines.push(`- ${WORD[category]}: ${sentence(g)}`);
      }
    }
    lines.push('');
  }
  const docs = report.summary.documentation;
  if (docs > 0) {
    lines.push(`Also ${count(docs, 'documentation-only change')} (descriptions, examples); \`npm run spec:diff\` lists ${docs === 1 ? 'it' : 'them'}.`, '');
  }
  return lines.join('\n');
}

function sentence(g: Group): string {
  const ops = g.operations.length > 0 ? `${g.operations.map((op) => `\`${op}\``).join(', ')}: ` : '';
  const where = g.change.location === 'operation' ? '' : `${g.change.location}: `;
  return `${ops}${where}${g.change.message.replace(/\.$/, '')}.`;
}

/** Commits by hash and date: a changelog outlives refs like HEAD. */
function commitLabel(side: Side, note?: string): string {
  const details = [side.commit?.date, note].filter(Boolean).join(', ');
  const name = side.commit ? `\`${side.commit.hash}\`` : side.label;
  return details ? `${name} (${details})` : name;
}

/** Puts a section at the top of a changelog file (below its title and introduction), creating the file if needed. */
export function prependSection(file: string, section: string): void {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : `${TITLE}\n\n${INTRO}\n`;
  const first = current.search(/^## /m);
  const head = (first < 0 ? current : current.slice(0, first)).trimEnd();
  const rest = first < 0 ? '' : current.slice(first);
  writeFileSync(file, `${head}\n\n${section.trimEnd()}\n${rest ? `\n${rest}` : ''}`);
}
