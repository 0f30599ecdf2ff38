// What Opsdeck reads of an OSV advisory (https://ossf.github.io/osv-schema/): its severity, whether its ranges
// make sense for their ecosystem, and whether a version of a package is affected (and what fixes it); and which
// ecosystem an agent's operating system packages belong to.
import cvss from 'ae-cvss-calculator';
import type { components } from '../../../generated/openapi.d.ts';
import type { ErrorDetail } from '../../http/errors.ts';
import { orderOf, type VersionOrder } from './version-order.ts';

type Schemas = components['schemas'];
type Severity = Schemas['VulnerabilitySeverity'];

export const SEVERITY_RANK: Record<Severity, number> = { unknown: 0, low: 1, medium: 2, high: 3, critical: 4 };

const NAMED_SEVERITY: Record<string, Severity> = { LOW: 'low', MODERATE: 'medium', MEDIUM: 'medium', HIGH: 'high', CRITICAL: 'critical' };

/** CVSS's qualitative bands of a base score. */
const band = (score: number): Severity => (score >= 9 ? 'critical' : score >= 7 ? 'high' : score >= 4 ? 'medium' : score > 0 ? 'low' : 'unknown');

/** The base score of a CVSS vector (v2, v3.0, v3.1, v4.0), or null when it is not one. */
function cvssScore(vector: string): number | null {
  try {
    const scored = vector.startsWith('CVSS:4.0/')
      ? new cvss.Cvss4P0(vector)
      : vector.startsWith('CVSS:3.1/')
        ? new cvss.Cvss3P1(vector)
        : vector.startsWith('CVSS:3.0/')
          ? new cvss.Cvss3P0(vector)
          : new cvss.Cvss2(vector);
    const base = scored.calculateScores().base;
    return typeof base === 'number' && Number.isFinite(base) ? base : null;
  } catch {
    return null;
  }
}

const isCvss = (type: string) => type.startsWith('CVSS_');

/** `database_specific.severity` when it names one, else the highest CVSS band (or Ubuntu's own severity), else unknown. */
export function severityOf(advisory: Schemas['OsvAdvisory']): Severity {
  const named = (advisory.database_specific as { severity?: unknown } | undefined)?.severity;
  if (typeof named === 'string' && NAMED_SEVERITY[named.toUpperCase()]) return NAMED_SEVERITY[named.toUpperCase()]!;
  let best: Severity = 'unknown';
  for (const s of advisory.severity ?? []) {
    const found = isCvss(s.type) ? band(cvssScore(s.score) ?? 0) : s.type === 'Ubuntu' ? (NAMED_SEVERITY[s.score.toUpperCase()] ?? 'unknown') : 'unknown';
    if (SEVERITY_RANK[found] > SEVERITY_RANK[best]) best = found;
  }
  return best;
}

type Event = Schemas['OsvEvent'];
const eventVersion = (e: Event): string => (e.introduced ?? e.fixed ?? e.last_affected ?? e.limit)!;

/** The problems of one advisory that its schema cannot say, each naming its field under `at` (`advisories.3`). */
export function advisoryProblems(advisory: Schemas['OsvAdvisory'], at: string): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  advisory.severity?.forEach((s, i) => {
    if (isCvss(s.type) && cvssScore(s.score) === null) problems.push({ field: `${at}.severity.${i}.score`, message: `is not a ${s.type} vector`, value: s.score });
  });
  advisory.affected?.forEach((affected, a) => {
    affected.ranges?.forEach((range, r) => {
      const field = `${at}.affected.${a}.ranges.${r}`;
      if (range.type === 'GIT') return;
      if (!range.events.some((e) => e.introduced !== undefined)) problems.push({ field: `${field}.events`, message: 'has no introduced event' });
      const order = orderOf(range.type, affected.package.ecosystem);
      if (!order) return;
      range.events.forEach((event, e) => {
        const version = eventVersion(event);
        if (event.introduced === '0' || order.parse(version) !== null) return;
        const kind = Object.keys(event)[0]!;
        problems.push({ field: `${field}.events.${e}.${kind}`, message: `is not a ${range.type === 'SEMVER' ? 'SemVer' : affected.package.ecosystem} version`, value: version });
      });
    });
  });
  return problems;
}

export interface Verdict {
  affected: boolean;
  /** In each range that affects the version, the first fixed version above it. */
  fixed: string[];
}

interface ParsedEvent {
  kind: 'introduced' | 'fixed' | 'last_affected';
  version: string;
  /** null for `introduced: "0"`, before everything. */
  parsed: unknown;
}

/** An advisory's entry for one package, its ranges' events parsed and sorted once for every version it is asked about. */
export interface CompiledEntry {
  ranges: { order: VersionOrder; events: ParsedEvent[] }[];
  versions: ReadonlySet<string>;
}

export function compileEntry(ecosystem: string, ranges: readonly Schemas['OsvRange'][], versions: readonly string[]): CompiledEntry {
  const compiled: CompiledEntry['ranges'] = [];
  for (const range of ranges) {
    const order = orderOf(range.type, ecosystem);
    if (!order) continue;
    const events: ParsedEvent[] = [];
    for (const event of range.events) {
      if (event.limit !== undefined) continue;
      const kind = event.introduced !== undefined ? 'introduced' : event.fixed !== undefined ? 'fixed' : 'last_affected';
      const text = eventVersion(event);
      const zero = kind === 'introduced' && text === '0';
      const parsed = zero ? null : order.parse(text);
      // Checked at import (advisoryProblems); an advisory stored before a stricter check is read leniently.
      if (parsed === null && !zero) continue;
      events.push({ kind, version: text, parsed });
    }
    events.sort((a, b) => (a.parsed === null ? -1 : b.parsed === null ? 1 : order.compare(a.parsed, b.parsed)));
    compiled.push({ order, events });
  }
  return { ranges: compiled, versions: new Set(versions) };
}

/** OSV's evaluation: in each range the last event at or below the version decides; listed versions match as written. */
export function verdictOf(entry: CompiledEntry, version: string): Verdict {
  const fixed = new Set<string>();
  const fixesOfAll = new Set<string>();
  let affected = false;
  for (const { order, events } of entry.ranges) {
    const parsed = order.parse(version);
    if (parsed === null) continue;
    let inRange = false;
    for (const e of events) {
      const cmp = e.parsed === null ? 1 : order.compare(parsed, e.parsed);
      if (e.kind === 'introduced' && cmp >= 0) inRange = true;
      else if (e.kind === 'fixed' && cmp >= 0) inRange = false;
      else if (e.kind === 'last_affected' && cmp > 0) inRange = false;
    }
    const fix = events.find((e) => e.kind === 'fixed' && order.compare(e.parsed, parsed) > 0)?.version;
    if (fix !== undefined) fixesOfAll.add(fix);
    if (!inRange) continue;
    affected = true;
    if (fix !== undefined) fixed.add(fix);
  }
  if (affected) return { affected, fixed: [...fixed] };
  if (entry.versions.has(version)) return { affected: true, fixed: [...fixesOfAll] };
  return { affected: false, fixed: [] };
}

/** Whether `version` of a package is affected by an advisory's entry for it (of `ecosystem`). */
export const verdict = (ecosystem: string, version: string, ranges: readonly Schemas['OsvRange'][], versions: readonly string[]): Verdict =>
  verdictOf(compileEntry(ecosystem, ranges, versions), version);

/**
 * The ecosystem of the packages of an agent's operating system, from its `os_version` as hosts report it
 * (`/etc/os-release`'s PRETTY_NAME): `Debian GNU/Linux 12 (bookworm)` → `Debian:12`, `Ubuntu 24.04.1 LTS` →
 * `Ubuntu:24.04`, `Alpine Linux v3.20` → `Alpine:v3.20`; `''` when it is none of them.
 */
export function osEcosystem(osVersion: string | null): string {
  if (!osVersion) return '';
  const debian = /\bdebian\b\D*(\d+)/i.exec(osVersion);
  if (debian) return `Debian:${debian[1]}`;
  const ubuntu = /\bubuntu\b\D*(\d+\.\d+)/i.exec(osVersion);
  if (ubuntu) return `Ubuntu:${ubuntu[1]}`;
  const alpine = /\balpine\b\D*?v?(\d+\.\d+)/i.exec(osVersion);
  if (alpine) return `Alpine:v${alpine[1]}`;
  return '';
}
