// How versions compare in each ecosystem OSV ranges can be evaluated in: a maintained library per ecosystem
// where one exists (semver for npm and every `SEMVER` range, @renovatebot/pep440 for PyPI), dpkg's order for
// Debian and Ubuntu (deb-version.ts). Other ecosystems' `ECOSYSTEM` ranges are not compared: a wrong order would
// report wrong vulnerabilities, so only their explicit `versions` match.
import * as pep440 from '@renovatebot/pep440';
import semver from 'semver';
import { compareDebVersions, parseDebVersion } from './deb-version.ts';

/** A version order: `parse` answers null for a text that is not a version in it. */
export interface VersionOrder<V = unknown> {
  parse(text: string): V | null;
  compare(a: V, b: V): number;
}

const semverOrder: VersionOrder<semver.SemVer> = {
  // OSV's SEMVER versions carry no `v`; Go's module versions do.
  parse: (text) => semver.parse(text.startsWith('v') ? text.slice(1) : text),
  compare: (a, b) => semver.compare(a, b),
};

const pep440Order: VersionOrder<string> = {
  parse: (text) => (pep440.valid(text) === null ? null : text),
  compare: (a, b) => pep440.compare(a, b),
};

const debOrder: VersionOrder = { parse: parseDebVersion, compare: compareDebVersions as VersionOrder['compare'] };

/** By the ecosystem's name without its release (`Debian:12` → `Debian`). */
const ECOSYSTEM_ORDERS: Record<string, VersionOrder> = {
  npm: semverOrder as VersionOrder,
  PyPI: pep440Order as VersionOrder,
  Debian: debOrder,
  Ubuntu: debOrder,
};

export const ecosystemBase = (ecosystem: string): string => ecosystem.split(':', 1)[0]!;

/** The order of a range's versions, or `undefined` when Opsdeck does not compare them (GIT, unknown ecosystems). */
export function orderOf(rangeType: string, ecosystem: string): VersionOrder | undefined {
  if (rangeType === 'SEMVER') return semverOrder as VersionOrder;
  if (rangeType === 'ECOSYSTEM') return ECOSYSTEM_ORDERS[ecosystemBase(ecosystem)];
  return undefined;
}
