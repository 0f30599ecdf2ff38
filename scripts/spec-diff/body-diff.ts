// Request bodies and responses: presence, media types, response statuses and headers, then their schemas
// (request bodies in the request direction, response bodies and headers in the response direction).
import type { OperationSides } from './parameter-diff.ts';
import { deref, inline } from './resolve.ts';
import { diffSchemas, type Direction } from './schema-diff.ts';
import { code, isObj, same, type Obj } from './types.ts';

export function diffRequestBody(sides: OperationSides, bOp: Obj, aOp: Obj): void {
  const { changes, scope } = sides;
  const b = deref(sides.before, bOp.requestBody).value;
  const a = deref(sides.after, aOp.requestBody).value;
  const at = 'request body';
  if (!b && !a) return;
  if (!b && a) {
    const required = a.required === true;
    changes.add(scope, required ? 'request-body-added-required' : 'request-body-added-optional', at, `${required ? 'required' : 'optional'} request body added`);
    return;
  }
  if (b && !a) {
    changes.add(scope, 'request-body-removed', at, 'request body removed');
    return;
  }
  if (!b || !a) return;
  if (b.required !== true && a.required === true) changes.add(scope, 'request-body-became-required', at, 'now required');
  if (b.required === true && a.required !== true) changes.add(scope, 'request-body-became-optional', at, 'no longer required');
  if (!same(b.description, a.description)) changes.add(scope, 'documentation', at, `${code('description')} changed`);
  diffContent(sides, b.content, a.content, 'request', (mt) => `request body (${mt})`, {
    removed: 'request-media-type-removed',
    added: 'request-media-type-added',
  });
}

export function diffResponses(sides: OperationSides, bOp: Obj, aOp: Obj): void {
  const { changes, scope } = sides;
  const rb = statuses(bOp.responses);
  const ra = statuses(aOp.responses);
  for (const [status, raw] of rb) {
    const at = `response ${status}`;
    if (!ra.has(status)) {
      changes.add(scope, 'response-status-removed', at, 'status no longer declared');
      continue;
    }
    const b = deref(sides.before, raw).value ?? {};
    const a = deref(sides.after, ra.get(status)).value ?? {};
    if (!same(b.description, a.description)) changes.add(scope, 'documentation', at, `${code('description')} changed`);
    diffHeaders(sides, status, b.headers, a.headers);
    diffContent(sides, b.content, a.content, 'response', (mt) => `response ${status} (${mt})`, {
      removed: 'response-media-type-removed',
      added: 'response-media-type-added',
    });
  }
  for (const [status, raw] of ra) {
    if (rb.has(status)) continue;
    const description = deref(sides.after, raw).value?.description;
    const what = typeof description === 'string' ? `: ${description.split('\n')[0]}` : '';
    changes.add(scope, 'response-status-added', `response ${status}`, `status added${what}`);
  }
}

function statuses(value: unknown): Map<string, unknown> {
  return new Map(Object.entries(isObj(value) ? value : {}).map(([k, v]) => [k.toUpperCase(), v]));
}

function diffHeaders(sides: OperationSides, status: string, bRaw: unknown, aRaw: unknown): void {
  const { changes, scope } = sides;
  // Header names are case-insensitive; Content-Type is described by the media type, not here.
  const byName = (raw: unknown): Map<string, [string, unknown]> =>
    new Map(Object.entries(isObj(raw) ? raw : {}).filter(([n]) => n.toLowerCase() !== 'content-type').map(([n, v]) => [n.toLowerCase(), [n, v]]));
  const hb = byName(bRaw);
  const ha = byName(aRaw);
  for (const [key, [name, raw]] of hb) {
    const at = `response ${status} header ${code(name)}`;
    const other = ha.get(key);
    if (!other) {
      changes.add(scope, 'response-header-removed', at, 'header removed');
      continue;
    }
    const b = deref(sides.before, raw).value ?? {};
    const a = deref(sides.after, other[1]).value ?? {};
    if (b.required === true && a.required !== true) changes.add(scope, 'response-property-became-optional', at, 'no longer always sent');
    if (b.required !== true && a.required === true) changes.add(scope, 'response-property-became-required', at, 'now always sent');
    for (const k of ['description', 'example', 'examples']) {
      if (!same(inline(sides.before, b[k]), inline(sides.after, a[k]))) changes.add(scope, 'documentation', at, `${code(k)} changed`);
    }
    diffSchemas({ before: sides.before, after: sides.after, direction: 'response', changes, scope, location: at }, b.schema ?? {}, a.schema ?? {});
  }
  for (const [key, [name]] of ha) {
    if (!hb.has(key)) changes.add(scope, 'response-header-added', `response ${status} header ${code(name)}`, 'header added');
  }
}

function diffContent(
  sides: OperationSides,
  bRaw: unknown,
  aRaw: unknown,
  direction: Direction,
  location: (mediaType: string) => string,
  rules: { removed: 'request-media-type-removed' | 'response-media-type-removed'; added: 'request-media-type-added' | 'response-media-type-added' },
): void {
  const { changes, scope } = sides;
  const cb = isObj(bRaw) ? bRaw : {};
  const ca = isObj(aRaw) ? aRaw : {};
  for (const [mt, raw] of Object.entries(cb)) {
    const at = location(mt);
    if (!(mt in ca)) {
      changes.add(scope, rules.removed, at, `${code(mt)} no longer ${direction === 'request' ? 'accepted' : 'sent'}`);
      continue;
    }
    const b = isObj(raw) ? raw : {};
    const a = isObj(ca[mt]) ? ca[mt] : {};
    for (const k of ['example', 'examples']) {
      if (!same(inline(sides.before, b[k]), inline(sides.after, a[k]))) changes.add(scope, 'documentation', at, `${code(k)} changed`);
    }
    diffSchemas({ before: sides.before, after: sides.after, direction, changes, scope, location: at }, b.schema ?? {}, a.schema ?? {});
  }
  for (const mt of Object.keys(ca)) {
    if (!(mt in cb)) changes.add(scope, rules.added, location(mt), `${code(mt)} now ${direction === 'request' ? 'accepted' : 'sent'}`);
  }
}
