// Internal $ref resolution in a bundled document (`#/components/...`). External refs cannot occur:
// both sides are bundled by Redocly first.
import { isObj, type Obj } from './types.ts';

export interface Resolved {
  value: Obj | undefined;
  /** The last $ref followed (`#/components/schemas/Agent`), when there was one. */
  ref?: string;
}

function pointer(doc: Obj, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    node = isObj(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
  }
  return node;
}

/** Follows $ref chains; siblings of a $ref (allowed in 3.1) override the target's keywords. */
export function deref(doc: Obj, value: unknown): Resolved {
  let node = value;
  let ref: string | undefined;
  let siblings: Obj = {};
  const seen = new Set<string>();
  while (isObj(node) && typeof node.$ref === 'string') {
    if (seen.has(node.$ref)) return { value: undefined, ref: node.$ref };
    seen.add(node.$ref);
    ref = node.$ref;
    const { $ref: _ignored, ...rest } = node;
    siblings = { ...rest, ...siblings };
    node = pointer(doc, ref);
  }
  const value_ = isObj(node) ? (Object.keys(siblings).length > 0 ? { ...node, ...siblings } : node) : undefined;
  return ref === undefined ? { value: value_ } : { value: value_, ref };
}

export function refName(ref: string | undefined): string | undefined {
  return ref?.split('/').pop();
}

/** The value with every internal $ref replaced by its target (for comparing examples by content). */
export function inline(doc: Obj, value: unknown, depth = 0): unknown {
  if (depth > 32) return value;
  if (Array.isArray(value)) return value.map((v) => inline(doc, v, depth + 1));
  if (!isObj(value)) return value;
  const target = typeof value.$ref === 'string' ? deref(doc, value).value : value;
  return Object.fromEntries(Object.entries(target ?? {}).map(([k, v]) => [k, inline(doc, v, depth + 1)]));
}
