// The whole comparison: document-wide parts (info, servers, tags, security schemes, roles, extensions),
// every operation and every webhook. Components matter only through the operations that use them, so an unused schema
// changing is not reported.
import { diffOperations } from './operation-diff.ts';
import { diffRoles, diffSecuritySchemes } from './security-diff.ts';
import { diffWebhooks } from './webhook-diff.ts';
import { Changes, code, isObj, same, type Change, type Obj, type Scope } from './types.ts';

export interface DiffOptions {
  /** When the comparison happens, for x-sunset dates; defaults to now. */
  now?: Date;
}

const GENERAL: Scope = { resource: 'General' };
// Handled elsewhere: paths and components through the operations, security per operation, x-roles here.
const HANDLED = new Set(['paths', 'components', 'security', 'info', 'x-roles', 'openapi', 'webhooks']);
const DOCUMENTATION = new Set(['servers', 'tags', 'externalDocs']);

export function diffSpecs(before: Obj, after: Obj, options: DiffOptions = {}): Change[] {
  const changes = new Changes();
  diffInfo(changes, obj(before.info), obj(after.info));
  if (before.openapi !== after.openapi && before.openapi !== undefined) {
    changes.add(GENERAL, 'documentation', 'openapi', `OpenAPI ${String(before.openapi)} → ${String(after.openapi)}`);
  }
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (HANDLED.has(key) || same(before[key], after[key])) continue;
    const documentation = DOCUMENTATION.has(key) || key.startsWith('x-');
    changes.add(GENERAL, documentation ? 'documentation' : 'unclassified-change', code(key), `${code(key)} changed`);
  }
  diffSecuritySchemes(changes, GENERAL, before, after);
  diffRoles(changes, GENERAL, before, after);
  diffOperations(before, after, changes, options.now ?? new Date());
  diffWebhooks(changes, before, after);
  return changes.list;
}

function diffInfo(changes: Changes, b: Obj, a: Obj): void {
  for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (key === 'version' || same(b[key], a[key])) continue;
    changes.add(GENERAL, 'documentation', 'info', `${code(`info.${key}`)} changed`);
  }
}

function obj(value: unknown): Obj {
  return isObj(value) ? value : {};
}
