// One pair of specs per rule under fixtures/<rule>/ (more cases of a rule as <rule>--<case>/): each pair
// must produce that rule, with the severity this table expects, and nothing else but documentation.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffSpecs } from '../../scripts/spec-diff/document-diff.ts';
import { loadSpecFile } from '../../scripts/spec-diff/load.ts';
import { RULE_IDS, RULES, type RuleId, type Severity } from '../../scripts/spec-diff/rules.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
// Between the sunset dates the fixtures use (2020-01-01 passed, 2999-12-31 to come).
const NOW = new Date('2026-06-01T00:00:00Z');

// The policy, written out independently of rules.ts: seed 000's lists and their response-side counterparts.
const EXPECTED: Record<RuleId, Severity> = {
  'operation-added': 'non-breaking',
  'operation-removed': 'breaking',
  'operation-removed-before-sunset': 'breaking',
  'operation-removed-after-sunset': 'non-breaking',
  'operation-deprecated': 'non-breaking',
  'operation-undeprecated': 'non-breaking',
  'operation-sunset-announced': 'non-breaking',
  'operation-id-changed': 'breaking',
  'webhook-added': 'non-breaking',
  'webhook-removed': 'breaking',
  'parameter-added-required': 'breaking',
  'parameter-added-optional': 'non-breaking',
  'parameter-removed': 'breaking',
  'parameter-became-required': 'breaking',
  'parameter-became-optional': 'non-breaking',
  'parameter-style-changed': 'breaking',
  'parameter-reserved-allowed': 'non-breaking',
  'parameter-reserved-disallowed': 'breaking',
  'request-body-added-required': 'breaking',
  'request-body-added-optional': 'non-breaking',
  'request-body-removed': 'breaking',
  'request-body-became-required': 'breaking',
  'request-body-became-optional': 'non-breaking',
  'request-media-type-added': 'non-breaking',
  'request-media-type-removed': 'breaking',
  'request-property-added-required': 'breaking',
  'request-property-added-optional': 'non-breaking',
  'request-property-removed': 'breaking',
  'request-property-became-required': 'breaking',
  'request-property-became-optional': 'non-breaking',
  'request-type-changed': 'breaking',
  'request-type-widened': 'non-breaking',
  'request-format-changed': 'breaking',
  'request-format-removed': 'non-breaking',
  'request-enum-narrowed': 'breaking',
  'request-enum-widened': 'non-breaking',
  'request-bounds-narrowed': 'breaking',
  'request-bounds-widened': 'non-breaking',
  'request-default-changed': 'breaking',
  'request-variant-added': 'non-breaking',
  'request-variant-removed': 'breaking',
  'response-status-added': 'non-breaking',
  'response-status-removed': 'breaking',
  'response-media-type-added': 'non-breaking',
  'response-media-type-removed': 'breaking',
  'response-header-added': 'non-breaking',
  'response-header-removed': 'breaking',
  'response-property-added': 'non-breaking',
  'response-property-removed': 'breaking',
  'response-property-became-optional': 'breaking',
  'response-property-became-required': 'non-breaking',
  'response-type-changed': 'breaking',
  'response-type-narrowed': 'non-breaking',
  'response-format-changed': 'breaking',
  'response-format-added': 'non-breaking',
  'response-enum-value-added': 'non-breaking',
  'response-enum-narrowed': 'non-breaking',
  'response-enum-removed': 'breaking',
  'response-bounds-widened': 'breaking',
  'response-bounds-narrowed': 'non-breaking',
  'response-variant-added': 'breaking',
  'response-variant-removed': 'non-breaking',
  'property-deprecated': 'non-breaking',
  'security-required': 'breaking',
  'security-removed': 'non-breaking',
  'security-alternative-added': 'non-breaking',
  'security-alternative-removed': 'breaking',
  'security-scopes-added': 'breaking',
  'security-scopes-removed': 'non-breaking',
  'security-scheme-changed': 'breaking',
  'permission-added': 'breaking',
  'permission-removed': 'non-breaking',
  'role-permissions-narrowed': 'breaking',
  'role-permissions-widened': 'non-breaking',
  'unclassified-change': 'breaking',
  documentation: 'documentation',
};

const fixtures = readdirSync(FIXTURES).sort();
const load = (dir: string, side: 'before' | 'after') => loadSpecFile(join(FIXTURES, dir, `${side}.yaml`)).doc;

describe.each(fixtures)('fixture %s', (dir) => {
  const rule = dir.split('--')[0] as RuleId;

  it(`is classified as ${rule}, and nothing else but documentation`, () => {
    expect(RULE_IDS).toContain(rule);
    const changes = diffSpecs(load(dir, 'before'), load(dir, 'after'), { now: NOW });
    const mine = changes.filter((c) => c.rule === rule);
    expect(mine.length, JSON.stringify(changes, null, 2)).toBeGreaterThan(0);
    for (const change of mine) expect(change.severity).toBe(EXPECTED[rule]);
    const others = changes.filter((c) => c.rule !== rule && c.severity !== 'documentation');
    expect(others, 'changes of other rules').toEqual([]);
  });

  it('finds no change between either side and itself', () => {
    expect(diffSpecs(load(dir, 'before'), load(dir, 'before'), { now: NOW })).toEqual([]);
    expect(diffSpecs(load(dir, 'after'), load(dir, 'after'), { now: NOW })).toEqual([]);
  });
});

describe('the rule catalogue', () => {
  it('has a fixture for every rule', () => {
    const covered = new Set(fixtures.map((dir) => dir.split('--')[0]));
    expect(RULE_IDS.filter((id) => !covered.has(id))).toEqual([]);
  });

  it('classifies every rule as the policy table says', () => {
    expect(Object.fromEntries(RULE_IDS.map((id) => [id, RULES[id].severity]))).toEqual(EXPECTED);
  });
});
