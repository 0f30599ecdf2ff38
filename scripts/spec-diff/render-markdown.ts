// The report as markdown for a pull-request comment: a verdict, then a table per severity, the
// documentation-only changes folded away.
import { RULES, type Severity } from './rules.ts';
import { groupChanges, sideLabel, type Group, type Report } from './report.ts';

const MAX_OPERATIONS_SHOWN = 6;

export function renderMarkdown(report: Report): string {
  const { summary, version } = report;
  const lines = [`### API contract changes: ${sideLabel(report.base)} → ${sideLabel(report.head)}`, ''];
  if (report.changes.length === 0) {
    lines.push('No changes to the contract.', '');
    return lines.join('\n');
  }
  const versions = `info.version \`${report.base.version ?? 'none'}\` → \`${report.head.version ?? 'none'}\``;
  lines.push(`**${summary.breaking} breaking** · ${summary.nonBreaking} non-breaking · ${summary.documentation} documentation · ${versions}`, '');
  const alert = !version.ok ? 'CAUTION' : summary.breaking > 0 ? 'WARNING' : 'NOTE';
  lines.push(`> [!${alert}]`, `> ${version.message}`, '');
  const groups = groupChanges(report.changes);
  lines.push(...section('Breaking', groups, 'breaking'), ...section('Non-breaking', groups, 'non-breaking'));
  const docs = groups.filter((g) => g.change.severity === 'documentation');
  if (docs.length > 0) {
    lines.push(`<details><summary>Documentation only (${summary.documentation})</summary>`, '', ...table(docs, false), '', '</details>', '');
  }
  lines.push('<sub>Rules: `scripts/spec-diff/rules.ts`. Run it yourself: `npm run spec:diff -- <git-ref>`.</sub>', '');
  return lines.join('\n');
}

function section(title: string, groups: Group[], severity: Severity): string[] {
  const chosen = groups.filter((g) => g.change.severity === severity);
  if (chosen.length === 0) return [];
  const count = chosen.reduce((n, g) => n + Math.max(1, g.operations.length), 0);
  return [`#### ${title} (${count})`, '', ...table(chosen, true), ''];
}

function table(groups: Group[], withRule: boolean): string[] {
  const head = withRule ? ['| Operation | Where | Change | Rule |', '| --- | --- | --- | --- |'] : ['| Operation | Where | Change |', '| --- | --- | --- |'];
  const rows = groups.map((g) => {
    const cells = [operations(g.operations), cell(g.change.location), cell(g.change.message)];
    if (withRule) cells.push(`\`${g.change.rule}\` <sub>${cell(RULES[g.change.rule].title)}</sub>`);
    return `| ${cells.join(' | ')} |`;
  });
  return [...head, ...rows];
}

function operations(list: string[]): string {
  if (list.length === 0) return '(whole API)';
  const shown = list.slice(0, MAX_OPERATIONS_SHOWN).map((op) => `\`${op}\``);
  if (list.length > MAX_OPERATIONS_SHOWN) shown.push(`and ${list.length - MAX_OPERATIONS_SHOWN} more`);
  return shown.join('<br>');
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
