// One comparison, ready to render: both sides, the changes, the counts and the version verdict.
import { verdict, summarize, type Summary, type VersionVerdict } from './classify.ts';
import { diffSpecs, type DiffOptions } from './document-diff.ts';
import type { LoadedSpec } from './load.ts';
import { isObj, type Change } from './types.ts';

export interface Side {
  label: string;
  commit?: { hash: string; date: string };
  version: string | undefined;
  empty: boolean;
}

export interface Report {
  base: Side;
  head: Side;
  summary: Summary;
  version: VersionVerdict;
  changes: Change[];
}

export function buildReport(base: LoadedSpec, head: LoadedSpec, options: DiffOptions = {}): Report {
  const changes = diffSpecs(base.doc, head.doc, options);
  const side = (s: LoadedSpec): Side => {
    const info = isObj(s.doc.info) ? s.doc.info : {};
    const version = s.empty ? undefined : typeof info.version === 'string' ? info.version : undefined;
    return s.commit ? { label: s.label, commit: s.commit, version, empty: s.empty } : { label: s.label, version, empty: s.empty };
  };
  const b = side(base);
  const h = side(head);
  return { base: b, head: h, summary: summarize(changes), version: verdict(changes, b.version, h.version, base.empty), changes };
}

/** Identical changes met in several operations (a shared schema) are shown once, listing the operations. */
export interface Group {
  change: Change;
  operations: string[];
}

export function groupChanges(changes: Change[]): Group[] {
  const groups = new Map<string, Group>();
  for (const change of changes) {
    const key = [change.severity, change.rule, change.resource, change.location, change.message].join('\u0000');
    const group = groups.get(key);
    if (!group) groups.set(key, { change, operations: change.operation ? [change.operation] : [] });
    else if (change.operation && !group.operations.includes(change.operation)) group.operations.push(change.operation);
  }
  return [...groups.values()];
}

export function sideLabel(side: Side): string {
  const hash = side.commit && !side.label.startsWith(side.commit.hash) ? `${side.commit.hash}, ` : '';
  const commit = side.commit ? ` (${hash}${side.commit.date})` : '';
  return `${side.label === 'working tree' ? 'working tree' : `\`${side.label}\``}${commit}`;
}
