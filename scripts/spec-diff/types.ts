import { RULES, type RuleId, type Severity } from './rules.ts';

export type Obj = Record<string, unknown>;

export interface Change {
  rule: RuleId;
  severity: Severity;
  /** `GET /api/v1/agents` (the path as written in the newer spec), absent for document-wide changes. */
  operation?: string;
  /** The operation's first tag, else its first path segment after /api/vN; `General` for the rest. */
  resource: string;
  /** Where in the operation: `query parameter \`limit\``, `response 200 (application/json) \`data.status\``. */
  location: string;
  message: string;
}

/** Where changes of one operation (or of the document) are recorded. */
export interface Scope {
  operation?: string;
  resource: string;
}

export class Changes {
  readonly list: Change[] = [];

  add(scope: Scope, rule: RuleId, location: string, message: string): void {
    const change: Change = { rule, severity: RULES[rule].severity, resource: scope.resource, location, message };
    if (scope.operation) change.operation = scope.operation;
    this.list.push(change);
  }
}

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function same(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}

/** JSON with sorted keys, so two equal objects written in another order compare equal. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObj(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  ) ?? 'undefined';
}

export function code(value: unknown): string {
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}
