// Parameters are matched by location and name (header names case-insensitively); path parameters by their
// position in the template, since renaming `{id}` to `{agent_id}` leaves the URL as it was.
import { deref, inline } from './resolve.ts';
import { diffSchemas } from './schema-diff.ts';
import { code, isObj, same, type Changes, type Obj, type Scope } from './types.ts';

interface Parameter {
  name: string;
  in: string;
  label: string;
  value: Obj;
}

export interface OperationSides {
  before: Obj;
  after: Obj;
  changes: Changes;
  scope: Scope;
}

export function diffParameters(
  sides: OperationSides,
  b: { path: string; pathItem: Obj; op: Obj },
  a: { path: string; pathItem: Obj; op: Obj },
): void {
  const pb = collect(sides.before, b.path, b.pathItem, b.op);
  const pa = collect(sides.after, a.path, a.pathItem, a.op);
  const { changes, scope } = sides;
  for (const [key, p] of pb) {
    const q = pa.get(key);
    if (!q) changes.add(scope, 'parameter-removed', p.label, 'parameter removed');
    else compare(sides, p, q);
  }
  for (const [key, q] of pa) {
    if (pb.has(key)) continue;
    const required = q.in === 'path' || q.value.required === true;
    changes.add(scope, required ? 'parameter-added-required' : 'parameter-added-optional', q.label, `${required ? 'required' : 'optional'} parameter added`);
  }
}

function collect(doc: Obj, path: string, pathItem: Obj, op: Obj): Map<string, Parameter> {
  const template = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const map = new Map<string, Parameter>();
  // Operation-level parameters override path-level ones with the same location and name.
  for (const raw of [...list(pathItem.parameters), ...list(op.parameters)]) {
    const value = deref(doc, raw).value;
    if (!value || typeof value.name !== 'string' || typeof value.in !== 'string') continue;
    const position = template.indexOf(value.name);
    const key =
      value.in === 'path' && position >= 0 ? `path#${position}`
      : value.in === 'header' ? `header:${value.name.toLowerCase()}`
      : `${value.in}:${value.name}`;
    map.set(key, { name: value.name, in: value.in, label: `${value.in} parameter ${code(value.name)}`, value });
  }
  return map;
}

function compare(sides: OperationSides, p: Parameter, q: Parameter): void {
  const { changes, scope } = sides;
  const at = q.label;
  if (p.name !== q.name) changes.add(scope, 'documentation', at, `renamed from ${code(p.name)} (the URL is unchanged)`);
  const rb = p.in === 'path' || p.value.required === true;
  const ra = q.in === 'path' || q.value.required === true;
  if (!rb && ra) changes.add(scope, 'parameter-became-required', at, 'now required');
  if (rb && !ra) changes.add(scope, 'parameter-became-optional', at, 'no longer required');
  const [sb, eb] = serialisation(p);
  const [sa, ea] = serialisation(q);
  if (sb !== sa || eb !== ea) changes.add(scope, 'parameter-style-changed', at, `style ${sb}/explode ${eb} → style ${sa}/explode ${ea}`);
  const reservedB = p.value.allowReserved === true;
  const reservedA = q.value.allowReserved === true;
  if (!reservedB && reservedA) changes.add(scope, 'parameter-reserved-allowed', at, 'reserved characters (`:`, `,`, …) now allowed unencoded');
  if (reservedB && !reservedA) changes.add(scope, 'parameter-reserved-disallowed', at, 'reserved characters must now be percent-encoded');
  if (p.value.deprecated !== true && q.value.deprecated === true) changes.add(scope, 'property-deprecated', at, 'deprecated');
  for (const key of ['description', 'example', 'examples']) {
    if (!same(inline(sides.before, p.value[key]), inline(sides.after, q.value[key]))) changes.add(scope, 'documentation', at, `${code(key)} changed`);
  }
  diffSchemas(
    { before: sides.before, after: sides.after, direction: 'request', changes, scope, location: at },
    schemaOf(p.value),
    schemaOf(q.value),
  );
}

function serialisation(p: Parameter): [string, boolean] {
  const style = typeof p.value.style === 'string' ? p.value.style : p.in === 'query' || p.in === 'cookie' ? 'form' : 'simple';
  const explode = typeof p.value.explode === 'boolean' ? p.value.explode : style === 'form';
  return [style, explode];
}

/** A parameter has either `schema` or `content` with one media type. */
function schemaOf(p: Obj): unknown {
  if (p.schema !== undefined) return p.schema;
  const media = isObj(p.content) ? Object.values(p.content)[0] : undefined;
  return isObj(media) ? media.schema ?? {} : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
