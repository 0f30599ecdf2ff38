// Authentication and permissions. An operation's security is a list of alternatives (any one suffices),
// each naming schemes that must all be satisfied with the scopes listed; Opsdeck lists the permission an
// operation requires as those scopes. A previously accepted credential that is refused after the change is
// breaking: authentication newly required, an alternative dropped, a scope or permission added.
import { code, isObj, same, type Changes, type Obj, type Scope } from './types.ts';

type Requirement = Map<string, string[]>;

export function diffOperationSecurity(changes: Changes, scope: Scope, docs: { before: Obj; after: Obj }, bOp: Obj, aOp: Obj): void {
  const rb = effective(docs.before, bOp);
  const ra = effective(docs.after, aOp);
  const at = 'security';
  const openB = isPublic(rb);
  const openA = isPublic(ra);
  if (openB && openA) return;
  if (openB) {
    changes.add(scope, 'security-required', at, `authentication now required: ${describe(ra)}`);
    return;
  }
  if (openA) {
    changes.add(scope, 'security-removed', at, `authentication no longer required (was ${describe(rb)})`);
    return;
  }
  const byKey = (reqs: Requirement[]): Map<string, Requirement> => new Map(reqs.map((r) => [[...r.keys()].sort().join(' + '), r]));
  const kb = byKey(rb);
  const ka = byKey(ra);
  for (const [key, req] of kb) {
    const other = ka.get(key);
    if (!other) {
      changes.add(scope, 'security-alternative-removed', at, `${describe([req])} no longer accepted`);
      continue;
    }
    for (const [scheme, scopes] of req) {
      const now = other.get(scheme) ?? [];
      const added = now.filter((s) => !scopes.includes(s));
      const removed = scopes.filter((s) => !now.includes(s));
      if (added.length > 0) changes.add(scope, 'security-scopes-added', at, `${code(scheme)} now also requires ${list(added)}`);
      if (removed.length > 0) changes.add(scope, 'security-scopes-removed', at, `${code(scheme)} no longer requires ${list(removed)}`);
    }
  }
  for (const [key, req] of ka) {
    if (!kb.has(key)) changes.add(scope, 'security-alternative-added', at, `${describe([req])} now accepted`);
  }
}

/** `x-permission` / `x-permissions` on an operation: a string, a list, or a map keyed by permission. */
export function diffPermissionExtensions(changes: Changes, scope: Scope, bOp: Obj, aOp: Obj): void {
  const pb = permissions(bOp);
  const pa = permissions(aOp);
  const added = pa.filter((p) => !pb.includes(p));
  const removed = pb.filter((p) => !pa.includes(p));
  if (added.length > 0) changes.add(scope, 'permission-added', 'permissions', `now requires ${list(added)}`);
  if (removed.length > 0) changes.add(scope, 'permission-removed', 'permissions', `no longer requires ${list(removed)}`);
}

export function diffSecuritySchemes(changes: Changes, scope: Scope, before: Obj, after: Obj): void {
  const sb = schemes(before);
  const sa = schemes(after);
  for (const [name, b] of Object.entries(sb)) {
    const at = `security scheme ${code(name)}`;
    const a = sa[name];
    if (!isObj(a)) {
      changes.add(scope, 'security-scheme-changed', at, 'scheme removed');
      continue;
    }
    // The scope catalogue of an OAuth flow and the description are documentation; the mechanism is not.
    if (!same(mechanism(b), mechanism(a))) changes.add(scope, 'security-scheme-changed', at, 'how credentials are sent or checked changed');
    else if (!same(b, a)) changes.add(scope, 'documentation', at, 'description or scope catalogue changed');
  }
  for (const name of Object.keys(sa)) {
    if (!(name in sb)) changes.add(scope, 'documentation', `security scheme ${code(name)}`, 'scheme added');
  }
}

/** `x-roles: { name: { permissions: [...] } }` at the root: a role losing a permission refuses its holders. */
export function diffRoles(changes: Changes, scope: Scope, before: Obj, after: Obj): void {
  const rb = roles(before);
  const ra = roles(after);
  for (const [name, perms] of rb) {
    const at = `role ${code(name)}`;
    const now = ra.get(name);
    if (!now) {
      changes.add(scope, 'role-permissions-narrowed', at, 'role removed');
      continue;
    }
    const removed = perms.filter((p) => !now.includes(p));
    const added = now.filter((p) => !perms.includes(p));
    if (removed.length > 0) changes.add(scope, 'role-permissions-narrowed', at, `no longer grants ${list(removed)}`);
    if (added.length > 0) changes.add(scope, 'role-permissions-widened', at, `now grants ${list(added)}`);
  }
  for (const [name, perms] of ra) {
    if (!rb.has(name)) changes.add(scope, 'role-permissions-widened', `role ${code(name)}`, `role added, granting ${list(perms)}`);
  }
}

function effective(doc: Obj, op: Obj): Requirement[] {
  const raw = Array.isArray(op.security) ? op.security : Array.isArray(doc.security) ? doc.security : [];
  return raw.filter(isObj).map((r) => new Map(Object.entries(r).map(([k, v]) => [k, strings(v)])));
}

/** No requirement at all, or an empty alternative (`- {}`), lets anonymous callers in. */
function isPublic(reqs: Requirement[]): boolean {
  return reqs.length === 0 || reqs.some((r) => r.size === 0);
}

function describe(reqs: Requirement[]): string {
  return reqs
    .map((r) => [...r].map(([scheme, scopes]) => (scopes.length > 0 ? `${code(scheme)} (${list(scopes)})` : code(scheme))).join(' + '))
    .join(' or ');
}

function schemes(doc: Obj): Obj {
  const components = isObj(doc.components) ? doc.components : {};
  return isObj(components.securitySchemes) ? components.securitySchemes : {};
}

function mechanism(scheme: unknown): unknown {
  if (!isObj(scheme)) return scheme;
  const { description: _d, ...rest } = scheme;
  if (isObj(rest.flows)) {
    rest.flows = Object.fromEntries(Object.entries(rest.flows).map(([k, f]) => [k, isObj(f) ? { ...f, scopes: undefined } : f]));
  }
  return rest;
}

function permissions(op: Obj): string[] {
  const out: string[] = [];
  for (const key of ['x-permission', 'x-permissions']) {
    const v = op[key];
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) out.push(...strings(v));
    else if (isObj(v)) out.push(...Object.keys(v));
  }
  return [...new Set(out)];
}

function roles(doc: Obj): Map<string, string[]> {
  const raw = isObj(doc['x-roles']) ? doc['x-roles'] : {};
  return new Map(Object.entries(raw).map(([name, role]) => [name, isObj(role) ? strings(role.permissions) : strings(role)]));
}

function list(values: string[]): string {
  return values.map((v) => code(v)).join(', ');
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
