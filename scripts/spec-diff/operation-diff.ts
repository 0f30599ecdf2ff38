// Walks the operations of both documents, matched by method and path template (parameter names aside),
// and compares each pair: lifecycle, documentation, parameters, request body, responses and security.
import { diffRequestBody, diffResponses } from './body-diff.ts';
import { diffLifecycle, diffRemovedOperation } from './lifecycle.ts';
import { diffParameters, type OperationSides } from './parameter-diff.ts';
import { deref } from './resolve.ts';
import { diffOperationSecurity, diffPermissionExtensions } from './security-diff.ts';
import { code, isObj, same, type Changes, type Obj, type Scope } from './types.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const DOC_KEYS = ['summary', 'description', 'tags', 'externalDocs'];

export interface Operation {
  method: string;
  path: string;
  pathItem: Obj;
  op: Obj;
}

export function listOperations(doc: Obj): Map<string, Operation> {
  const map = new Map<string, Operation>();
  for (const [path, raw] of Object.entries(isObj(doc.paths) ? doc.paths : {})) {
    const pathItem = deref(doc, raw).value;
    if (!pathItem) continue;
    for (const method of METHODS) {
      const op = pathItem[method];
      if (isObj(op)) map.set(`${method.toUpperCase()} ${path.replace(/\{[^}]*\}/g, '{}')}`, { method, path, pathItem, op });
    }
  }
  return map;
}

/** The resource a change belongs to: the operation's first tag, else the path segment after /api/vN. */
export function resourceOf(operation: Operation): string {
  const tags = operation.op.tags;
  if (Array.isArray(tags) && typeof tags[0] === 'string') return tags[0];
  const segments = operation.path.split('/').filter(Boolean);
  const start = segments[0] === 'api' && /^v\d+$/.test(segments[1] ?? '') ? 2 : 0;
  return segments[start] ?? 'General';
}

export function diffOperations(before: Obj, after: Obj, changes: Changes, now: Date): void {
  const ob = listOperations(before);
  const oa = listOperations(after);
  for (const [key, b] of ob) {
    const a = oa.get(key);
    const scope: Scope = { operation: `${b.method.toUpperCase()} ${(a ?? b).path}`, resource: resourceOf(a ?? b) };
    if (!a) diffRemovedOperation(changes, scope, b.op, now);
    else diffOperation({ before, after, changes, scope }, b, a);
  }
  for (const [key, a] of oa) {
    if (ob.has(key)) continue;
    const scope: Scope = { operation: `${a.method.toUpperCase()} ${a.path}`, resource: resourceOf(a) };
    const summary = typeof a.op.summary === 'string' ? `: ${a.op.summary}` : '';
    changes.add(scope, 'operation-added', 'operation', `new operation${summary}`);
  }
}

function diffOperation(sides: OperationSides, b: Operation, a: Operation): void {
  const { changes, scope } = sides;
  diffLifecycle(changes, scope, b.op, a.op);
  for (const key of DOC_KEYS) {
    if (!same(b.op[key], a.op[key])) changes.add(scope, 'documentation', 'operation', `${code(key)} changed`);
  }
  diffParameters(sides, b, a);
  diffRequestBody(sides, b.op, a.op);
  diffResponses(sides, b.op, a.op);
  diffOperationSecurity(changes, scope, sides, b.op, a.op);
  diffPermissionExtensions(changes, scope, b.op, a.op);
}
