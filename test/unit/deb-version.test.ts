// Debian version order (deb-version(7), dpkg's lib/dpkg/version.c): pairs from Debian policy §5.6.12 and dpkg's
// own test suite (t-version.c), each with the sign of compare(a, b); and what OSV matching reads of versions.
import { describe, expect, it } from 'vitest';
import { compareDebVersions, parseDebVersion } from '../../server/modules/vulnerabilities/deb-version.ts';
import { osEcosystem, severityOf, verdict } from '../../server/modules/vulnerabilities/osv.ts';

const ORDER: [string, string, -1 | 0 | 1][] = [
  ['1.0', '1.0', 0],
  ['1.0', '1.0-0', 0], // no revision is an empty revision, which sorts like "0"
  ['0:1.0', '1.0', 0],
  ['1:1.0', '2.0', 1], // the epoch first
  ['1.0~rc1', '1.0', -1], // a tilde before anything, even the end
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~~', '1.0~', -1],
  ['1.0~', '1.0', -1],
  ['1.0', '1.0a', -1], // the end before a letter
  ['1.0a', '1.0+', -1], // letters before other characters
  ['1.0+', '1.0.', -1],
  ['1.0.', '1.0-1', 1],
  ['1.2', '1.10', -1], // digits as numbers
  ['1.002', '1.2', 0], // leading zeros do not count
  ['3.0.13-0ubuntu3.4', '3.0.13-0ubuntu3.5', -1],
  ['3.0.11-1~deb12u1', '3.0.11-1', -1],
  ['3.0.11-1~deb12u2', '3.0.11-1~deb12u1', 1],
  ['2.39-0ubuntu8', '2.39-0ubuntu8.1', -1],
  ['1.2.3-1', '1.2.3-1build1', -1],
  ['7.6p1-4', '7.6-4', 1],
  ['1:2.30-1', '2.40-1', 1],
  ['1.0-a-1', '1.0-a-2', -1], // the revision is after the last hyphen
];

describe('Debian version order', () => {
  it.each(ORDER)('%s vs %s → %i', (a, b, sign) => {
    const [va, vb] = [parseDebVersion(a)!, parseDebVersion(b)!];
    expect(va).not.toBeNull();
    expect(vb).not.toBeNull();
    expect(Math.sign(compareDebVersions(va, vb))).toBe(sign);
    expect(Math.sign(compareDebVersions(vb, va))).toBe(-sign || 0);
  });

  it.each(['', 'abc', '1.0 ', ':1.0', 'a:1.0', '1.0-', '1.0-rev_1', '1.0:2'])('refuses %j', (text) => {
    expect(parseDebVersion(text)).toBeNull();
  });

  it('splits epoch, upstream version and revision', () => {
    expect(parseDebVersion('2:1.2.3-1ubuntu1')).toEqual({ epoch: 2, upstream: '1.2.3', revision: '1ubuntu1' });
    expect(parseDebVersion('1:2:3-4-5')).toEqual({ epoch: 1, upstream: '2:3-4', revision: '5' });
  });
});

describe('OSV matching of versions', () => {
  const range = (type: 'SEMVER' | 'ECOSYSTEM', ...events: Record<string, string>[]) => [{ type, events }];
  it('is affected from introduced (included) up to fixed (excluded) or last_affected (included)', () => {
    const ranges = range('ECOSYSTEM', { introduced: '1.0.0' }, { fixed: '1.2.0' }, { introduced: '2.0.0' }, { last_affected: '2.1.0' });
    const at = (v: string) => verdict('npm', v, ranges, []).affected;
    expect([at('0.9.9'), at('1.0.0'), at('1.1.9'), at('1.2.0'), at('1.9.0'), at('2.0.0'), at('2.1.0'), at('2.1.1')]).toEqual([false, true, true, false, false, true, true, false]);
    expect(verdict('npm', '1.1.0', ranges, []).fixed).toEqual(['1.2.0']);
    expect(verdict('npm', '2.0.5', ranges, []).fixed).toEqual([]);
  });

  it('compares PyPI versions as PEP 440 and Debian ones as dpkg, whatever the order of the events', () => {
    expect(verdict('PyPI', '2.0rc1', range('ECOSYSTEM', { fixed: '2.0' }, { introduced: '0' }), []).affected).toBe(true);
    expect(verdict('PyPI', '2.0.0', range('ECOSYSTEM', { introduced: '0' }, { fixed: '2.0' }), []).affected).toBe(false);
    expect(verdict('Debian:12', '3.0.11-1~deb12u1', range('ECOSYSTEM', { introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }), []).affected).toBe(true);
    expect(verdict('Debian:12', '3.0.11-1', range('ECOSYSTEM', { introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }), []).affected).toBe(false);
  });

  it('matches listed versions as written, and leaves unknown orders alone', () => {
    expect(verdict('Maven', '1.0', range('ECOSYSTEM', { introduced: '0' }), ['1.0']).affected).toBe(true);
    expect(verdict('Maven', '1.1', range('ECOSYSTEM', { introduced: '0' }), ['1.0']).affected).toBe(false);
    expect(verdict('Go', 'v1.2.3', range('SEMVER', { introduced: '1.2.0' }, { fixed: '1.2.4' }), []).affected).toBe(true);
  });

  it('reads the operating system ecosystem and the severity', () => {
    expect(['Debian GNU/Linux 12 (bookworm)', 'Ubuntu 24.04.1 LTS', 'Alpine Linux v3.20', 'Windows Server 2022', null].map(osEcosystem)).toEqual([
      'Debian:12',
      'Ubuntu:24.04',
      'Alpine:v3.20',
      '',
      '',
    ]);
    const base = { id: 'X-1', modified: '2026-01-01T00:00:00Z' };
    expect(severityOf({ ...base, database_specific: { severity: 'MODERATE' } })).toBe('medium');
    expect(severityOf({ ...base, severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] })).toBe('critical');
    expect(severityOf({ ...base, severity: [{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N' }] })).toBe('medium');
    expect(severityOf(base)).toBe('unknown');
  });
});
