// Debian package versions (`[epoch:]upstream_version[-debian_revision]`) and their order, as deb-version(7)
// and dpkg's lib/dpkg/version.c define them. Written here rather than taken from npm: the only package that
// does this (deb-version-compare) is one release by one author with a few hundred downloads a month, not a
// maintained library, and the algorithm is short and fixed by Debian policy §5.6.12. Tested against a table
// of pairs from the policy and dpkg's own tests (test/unit/deb-version.test.ts).

export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

// Upstream: alphanumerics and . + - ~ (and : when there is an epoch), starting with a digit; revision:
// alphanumerics and + . ~. A hyphen splits at its last occurrence, a colon at its first.
const EPOCH = /^(\d+):/;
const UPSTREAM = /^[0-9][A-Za-z0-9.+~:-]*$/;
const REVISION = /^[A-Za-z0-9.+~]+$/;

/** The parts of a Debian version, or `null` when it is not one. */
export function parseDebVersion(text: string): DebVersion | null {
  let rest = text.trim();
  if (rest !== text || rest === '') return null;
  let epoch = 0;
  const epochMatch = EPOCH.exec(rest);
  if (epochMatch) {
    epoch = Number(epochMatch[1]);
    if (!Number.isSafeInteger(epoch)) return null;
    rest = rest.slice(epochMatch[0].length);
  }
  const dash = rest.lastIndexOf('-');
  const upstream = dash === -1 ? rest : rest.slice(0, dash);
  const revision = dash === -1 ? '' : rest.slice(dash + 1);
  if (!UPSTREAM.test(upstream) || (!epochMatch && upstream.includes(':'))) return null;
  if (dash !== -1 && !REVISION.test(revision)) return null;
  return { epoch, upstream, revision };
}

const isDigit = (c: string) => c >= '0' && c <= '9';
const isAlpha = (c: string) => (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');

/** dpkg's weight of a character in a non-digit run: `~` before the end, the end before letters, letters before the rest. */
function order(c: string): number {
  if (c === '' || isDigit(c)) return 0;
  if (isAlpha(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp: alternate runs of non-digits (compared by `order`) and digits (compared as numbers). */
function compareParts(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i]!)) || (j < b.length && !isDigit(b[j]!))) {
      const ac = order(a[i] ?? '');
      const bc = order(b[j] ?? '');
      if (ac !== bc) return ac - bc;
      i += 1;
      j += 1;
    }
    while (a[i] === '0') i += 1;
    while (b[j] === '0') j += 1;
    let firstDiff = 0;
    while (i < a.length && j < b.length && isDigit(a[i]!) && isDigit(b[j]!)) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i += 1;
      j += 1;
    }
    if (i < a.length && isDigit(a[i]!)) return 1;
    if (j < b.length && isDigit(b[j]!)) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareDebVersions(a: DebVersion, b: DebVersion): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  return compareParts(a.upstream, b.upstream) || compareParts(a.revision, b.revision);
}
