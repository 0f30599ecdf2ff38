// The verdict: how many changes of each kind, which version bump they call for, and whether
// info.version was bumped enough. Breaking changes need a major bump (or a new /api/vN path that leaves
// the old one as it was); non-breaking ones call for a minor bump, which is advised, not enforced.
import type { Change } from './types.ts';

export type Bump = 'major' | 'minor' | 'patch' | 'none';

export interface Summary {
  breaking: number;
  nonBreaking: number;
  documentation: number;
}

export interface VersionVerdict {
  before: string | undefined;
  after: string | undefined;
  /** The bump the changes call for. */
  required: Bump;
  /** The bump info.version got (`none` also when either side is not semver). */
  actual: Bump;
  suggested: string | undefined;
  /** False only when there are breaking changes and no major bump: the CLI then exits 1. */
  ok: boolean;
  message: string;
}

export function summarize(changes: Change[]): Summary {
  return {
    breaking: changes.filter((c) => c.severity === 'breaking').length,
    nonBreaking: changes.filter((c) => c.severity === 'non-breaking').length,
    documentation: changes.filter((c) => c.severity === 'documentation').length,
  };
}

type Semver = [number, number, number];

function parse(version: string | undefined): Semver | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

// Below 1.0.0 a minor bump is the breaking one (semver §4).
function bumpOf(b: Semver, a: Semver): Bump {
  const [bm, bn, bp] = b;
  const [am, an, ap] = a;
  if (am !== bm) return am > bm ? 'major' : 'none';
  if (am === 0 && an !== bn) return an > bn ? 'major' : 'none';
  if (an !== bn) return an > bn ? 'minor' : 'none';
  return ap > bp ? 'patch' : 'none';
}

function next(v: Semver, bump: Bump): string {
  const [m, n, p] = v;
  if (bump === 'major') return m === 0 ? `0.${n + 1}.0` : `${m + 1}.0.0`;
  if (bump === 'minor') return m === 0 ? `0.${n}.${p + 1}` : `${m}.${n + 1}.0`;
  if (bump === 'patch') return `${m}.${n}.${p + 1}`;
  return `${m}.${n}.${p}`;
}

const RANK: Record<Bump, number> = { none: 0, patch: 1, minor: 2, major: 3 };

/** `baseIsEmpty`: the older side had no spec at all, so everything in it is new and nothing can break. */
export function verdict(changes: Change[], before: string | undefined, after: string | undefined, baseIsEmpty = false): VersionVerdict {
  const s = summarize(changes);
  const required: Bump = s.breaking > 0 ? 'major' : s.nonBreaking > 0 ? 'minor' : s.documentation > 0 ? 'patch' : 'none';
  const vb = parse(before);
  const va = parse(after);
  const actual: Bump = vb && va ? bumpOf(vb, va) : 'none';
  const suggested = vb ? next(vb, required) : undefined;
  const base = { before, after, required, actual, suggested };
  if (baseIsEmpty) return { ...base, ok: true, message: `First version of the contract: ${after ?? 'no version'}.` };
  if (required === 'none') return { ...base, ok: true, message: 'No changes for clients.' };
  const enough = RANK[actual] >= RANK[required];
  if (s.breaking > 0 && !enough) {
    return {
      ...base,
      ok: false,
      message:
        `Breaking changes with info.version ${before ?? '?'} → ${after ?? '?'}: bump it to ${suggested ?? 'a new major version'}, ` +
        'or make the change under a new /api/vN path and leave the current one as it was.',
    };
  }
  if (enough) return { ...base, ok: true, message: `info.version ${before ?? '?'} → ${after ?? '?'} covers these changes (${required} bump needed).` };
  return {
    ...base,
    ok: true,
    message: `These changes call for a ${required} bump: info.version ${before ?? '?'} → ${suggested ?? '?'} (advice; it does not fail the check).`,
  };
}
