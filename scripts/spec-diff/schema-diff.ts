// Compares two JSON Schemas (OpenAPI 3.1 dialect) from the client's point of view. A request schema says
// what the server accepts, so narrowing it is breaking; a response schema says what a client may rely on,
// so widening it is breaking. allOf is merged first; oneOf/anyOf variants are matched by $ref name, title
// or type; a oneOf of consts (the error catalogue) is an enum.
import type { RuleId } from './rules.ts';
import { deref, refName } from './resolve.ts';
import { code, isObj, same, stableJson, type Changes, type Obj, type Scope } from './types.ts';

export type Direction = 'request' | 'response';

export interface SchemaDiffContext {
  before: Obj;
  after: Obj;
  direction: Direction;
  changes: Changes;
  scope: Scope;
  /** `request body (application/json)`, `query parameter \`limit\``, … */
  location: string;
}

interface Normalized {
  schema: Obj | undefined;
  ref?: string;
}

const DOC_KEYS = new Set(['description', 'title', 'example', 'examples', '$comment', 'externalDocs', 'xml']);
const UPPER = ['maxLength', 'maximum', 'exclusiveMaximum', 'maxItems', 'maxProperties'];
const LOWER = ['minLength', 'minimum', 'exclusiveMinimum', 'minItems', 'minProperties'];
const OPEN_OBJECT = ['additionalProperties', 'unevaluatedProperties'];
const HANDLED = new Set([
  ...DOC_KEYS, ...UPPER, ...LOWER, ...OPEN_OBJECT,
  'type', 'nullable', 'format', 'enum', 'const', 'properties', 'required', 'items', 'oneOf', 'anyOf', 'allOf',
  'default', 'deprecated', 'readOnly', 'writeOnly', 'pattern', 'multipleOf', 'uniqueItems',
  '$schema', '$id', '$anchor', '$defs',
]);
const MAX_DEPTH = 64;

export function diffSchemas(ctx: SchemaDiffContext, before: unknown, after: unknown): void {
  walk(ctx, before, after, '', []);
}

function walk(ctx: SchemaDiffContext, b: unknown, a: unknown, path: string, stack: string[]): void {
  const B = normalize(ctx.before, b, 0);
  const A = normalize(ctx.after, a, 0);
  if (!B.schema || !A.schema) return;
  // Recursive schemas always recurse through a $ref: stop when the same pair of refs comes round again.
  const pair = `${B.ref ?? ''}|${A.ref ?? ''}`;
  if ((B.ref || A.ref) && stack.includes(pair)) return;
  if (stack.length > MAX_DEPTH) return;
  const next = [...stack, pair];
  const emit = (rule: RuleId, message: string): void =>
    ctx.changes.add(ctx.scope, rule, path ? `${ctx.location} \`${path}\`` : ctx.location, message);
  const s = { b: B.schema, a: A.schema };

  documentation(s.b, s.a, ctx.direction, emit);
  if (!types(s.b, s.a, ctx.direction, emit)) return;
  format(s.b, s.a, ctx.direction, emit);
  enums(s.b, s.a, ctx.direction, emit);
  bounds(s.b, s.a, ctx.direction, emit);
  openObject(ctx, s.b, s.a, path, next, emit);
  properties(ctx, s.b, s.a, path, next);
  items(ctx, s.b, s.a, path, next, emit);
  variants(ctx, s.b, s.a, path, next, emit);
  defaults(s.b, s.a, ctx.direction, emit);
  for (const key of new Set([...Object.keys(s.b), ...Object.keys(s.a)])) {
    if (HANDLED.has(key) || key.startsWith('x-') || same(s.b[key], s.a[key])) continue;
    emit('unclassified-change', `${code(key)} changed`);
  }
}

type Emit = (rule: RuleId, message: string) => void;

function normalize(doc: Obj, value: unknown, depth: number): Normalized {
  const { value: resolved, ref } = deref(doc, value);
  if (!resolved || depth > MAX_DEPTH) return { schema: undefined };
  let schema = resolved;
  if (Array.isArray(schema.allOf)) {
    const { allOf, ...base } = schema;
    schema = base;
    for (const part of allOf as unknown[]) {
      const merged = normalize(doc, part, depth + 1).schema;
      if (merged) schema = mergeSchemas(schema, merged);
    }
  }
  const consts = constVariants(doc, schema);
  if (consts) {
    const { oneOf: _one, anyOf: _any, ...rest } = schema;
    schema = { ...rest, enum: consts };
  }
  schema = foldNullable(doc, schema, depth);
  return ref === undefined ? { schema } : { schema, ref };
}

/** `oneOf: [X, {type: 'null'}]` (3.1's nullable $ref) is X with `null` added to its types. */
function foldNullable(doc: Obj, schema: Obj, depth: number): Obj {
  const list = [...arr(schema.oneOf), ...arr(schema.anyOf)];
  const isNull = (v: unknown): boolean => {
    const t = deref(doc, v).value?.type;
    return t === 'null' || (Array.isArray(t) && t.length === 1 && t[0] === 'null');
  };
  const others = list.filter((v) => !isNull(v));
  if (list.length < 2 || others.length !== 1) return schema;
  const inner = normalize(doc, others[0], depth + 1).schema;
  if (!inner) return schema;
  const { oneOf: _one, anyOf: _any, ...rest } = schema;
  const merged = mergeSchemas(rest, inner);
  const types = typeSet(inner);
  if (types) merged.type = [...types, 'null'].filter((t, i, all) => all.indexOf(t) === i);
  else delete merged.type;
  return merged;
}

function mergeSchemas(base: Obj, part: Obj): Obj {
  const merged: Obj = { ...part, ...base };
  if (isObj(base.properties) || isObj(part.properties)) {
    merged.properties = { ...(isObj(part.properties) ? part.properties : {}), ...(isObj(base.properties) ? base.properties : {}) };
  }
  const required = [...strings(base.required), ...strings(part.required)];
  if (required.length > 0) merged.required = [...new Set(required)];
  return merged;
}

/** A oneOf/anyOf whose every variant is one constant is an enum (the error-code catalogue). */
function constVariants(doc: Obj, schema: Obj): unknown[] | undefined {
  const list = [...arr(schema.oneOf), ...arr(schema.anyOf)];
  if (list.length === 0) return undefined;
  const values: unknown[] = [];
  for (const variant of list) {
    const v = deref(doc, variant).value;
    if (v && 'const' in v) values.push(v.const);
    else if (v && Array.isArray(v.enum) && v.enum.length === 1) values.push(v.enum[0]);
    else return undefined;
  }
  return values;
}

function documentation(b: Obj, a: Obj, direction: Direction, emit: Emit): void {
  for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
    const doc = DOC_KEYS.has(key) || key.startsWith('x-') || (key === 'default' && direction === 'response');
    if (doc && !same(b[key], a[key])) emit('documentation', `${code(key)} changed`);
  }
  if (b.deprecated !== true && a.deprecated === true) emit('property-deprecated', 'deprecated');
  if (b.deprecated === true && a.deprecated !== true) emit('documentation', 'no longer deprecated');
}

/** Returns false when the types are incompatible, so the keywords below it would only add noise. */
function types(b: Obj, a: Obj, direction: Direction, emit: Emit): boolean {
  const tb = typeSet(b);
  const ta = typeSet(a);
  const wider = subset(tb, ta);
  const narrower = subset(ta, tb);
  if (wider && narrower) return true;
  const message = `type ${showTypes(tb)} → ${showTypes(ta)}`;
  if (direction === 'request') {
    emit(wider ? 'request-type-widened' : 'request-type-changed', message);
    return wider;
  }
  emit(narrower ? 'response-type-narrowed' : 'response-type-changed', message);
  return narrower;
}

function typeSet(s: Obj): Set<string> | undefined {
  const list = typeof s.type === 'string' ? [s.type] : Array.isArray(s.type) ? strings(s.type) : undefined;
  if (!list) return undefined;
  const set = new Set(list);
  if (s.nullable === true) set.add('null');
  return set;
}

/** Every value of type set `x` is allowed by `y` (undefined = any type; integer is a number). */
function subset(x: Set<string> | undefined, y: Set<string> | undefined): boolean {
  if (!y) return true;
  if (!x) return false;
  return [...x].every((t) => y.has(t) || (t === 'integer' && y.has('number')));
}

function showTypes(set: Set<string> | undefined): string {
  return set ? [...set].map((t) => code(t)).join(' | ') : 'any';
}

function format(b: Obj, a: Obj, direction: Direction, emit: Emit): void {
  if (b.format === a.format) return;
  const message = `format ${show(b.format)} → ${show(a.format)}`;
  if (direction === 'request') emit(a.format === undefined ? 'request-format-removed' : 'request-format-changed', message);
  else emit(b.format === undefined ? 'response-format-added' : 'response-format-changed', message);
}

function enums(b: Obj, a: Obj, direction: Direction, emit: Emit): void {
  const eb = enumValues(b);
  const ea = enumValues(a);
  if (!eb && !ea) return;
  if (eb && ea) {
    const removed = eb.filter((v) => !ea.includes(v));
    const added = ea.filter((v) => !eb.includes(v));
    if (removed.length > 0) {
      emit(direction === 'request' ? 'request-enum-narrowed' : 'response-enum-narrowed', `enum values removed: ${values(removed)}`);
    }
    if (added.length > 0) {
      if (direction === 'request') emit('request-enum-widened', `enum values added: ${values(added)}`);
      else emit('response-enum-value-added', `enum values added: ${values(added)}; clients must map unknown values to a default (seed 000)`);
    }
  } else if (ea) {
    emit(direction === 'request' ? 'request-enum-narrowed' : 'response-enum-narrowed', `now limited to ${values(ea)}`);
  } else {
    emit(direction === 'request' ? 'request-enum-widened' : 'response-enum-removed', 'no longer limited to a list of values');
  }
}

function enumValues(s: Obj): string[] | undefined {
  if (Array.isArray(s.enum)) return s.enum.map((v) => stableJson(v));
  if ('const' in s) return [stableJson(s.const)];
  return undefined;
}

type Shift = 'narrowed' | 'widened' | 'changed';

function bounds(b: Obj, a: Obj, direction: Direction, emit: Emit): void {
  for (const key of [...UPPER, ...LOWER, 'multipleOf', 'pattern', 'uniqueItems']) {
    if (same(b[key], a[key])) continue;
    const shift = boundShift(key, b[key], a[key]);
    emitBound(direction, shift, `${code(key)} ${show(b[key])} → ${show(a[key])}`, emit);
  }
}

function boundShift(key: string, b: unknown, a: unknown): Shift {
  if (key === 'uniqueItems') return a === true ? 'narrowed' : 'widened';
  if (a === undefined) return 'widened';
  if (b === undefined) return 'narrowed';
  if (typeof a !== 'number' || typeof b !== 'number') return 'changed';
  if (key === 'multipleOf') return a % b === 0 ? 'narrowed' : b % a === 0 ? 'widened' : 'changed';
  const tighter = UPPER.includes(key) ? a < b : a > b;
  return tighter ? 'narrowed' : 'widened';
}

function emitBound(direction: Direction, shift: Shift, message: string, emit: Emit): void {
  if (direction === 'request') emit(shift === 'widened' ? 'request-bounds-widened' : 'request-bounds-narrowed', message);
  else emit(shift === 'narrowed' ? 'response-bounds-narrowed' : 'response-bounds-widened', message);
}

/** additionalProperties / unevaluatedProperties: absent or true is open, false is closed, a schema constrains. */
function openObject(ctx: SchemaDiffContext, b: Obj, a: Obj, path: string, stack: string[], emit: Emit): void {
  for (const key of OPEN_OBJECT) {
    const vb = b[key] ?? true;
    const va = a[key] ?? true;
    if (same(vb, va)) continue;
    if (isObj(vb) && isObj(va)) {
      walk(ctx, vb, va, `${path}{*}`, stack);
      continue;
    }
    const rank = (v: unknown): number => (v === false ? 0 : v === true ? 2 : 1);
    const shift: Shift = rank(va) > rank(vb) ? 'widened' : 'narrowed';
    const message = `${code(key)} ${show(b[key])} → ${show(a[key])}`;
    // Seed 000: adding fields to responses is non-breaking, so a response object opening up is too.
    if (ctx.direction === 'response' && shift === 'widened') emit('response-property-added', `${message}: more fields may be sent`);
    else emitBound(ctx.direction, shift, message, emit);
  }
}

function properties(ctx: SchemaDiffContext, b: Obj, a: Obj, path: string, stack: string[]): void {
  const pb = visibleProperties(ctx.before, b, ctx.direction);
  const pa = visibleProperties(ctx.after, a, ctx.direction);
  const req = ctx.direction === 'request';
  const at = (name: string): string => (path ? `${path}.${name}` : name);
  const fieldEmit = (name: string) => (rule: RuleId, message: string): void =>
    ctx.changes.add(ctx.scope, rule, `${ctx.location} \`${at(name)}\``, message);
  for (const name of new Set([...pb.names, ...pa.names])) {
    const inB = pb.names.has(name);
    const inA = pa.names.has(name);
    const f = fieldEmit(name);
    if (inB && !inA) {
      f(req ? 'request-property-removed' : 'response-property-removed', 'field removed');
    } else if (!inB && inA) {
      if (!req) f('response-property-added', 'field added');
      else if (pa.required.has(name)) f('request-property-added-required', 'required field added');
      else f('request-property-added-optional', 'optional field added');
    } else {
      const rb = pb.required.has(name);
      const ra = pa.required.has(name);
      if (!rb && ra) f(req ? 'request-property-became-required' : 'response-property-became-required', 'now required');
      if (rb && !ra) f(req ? 'request-property-became-optional' : 'response-property-became-optional', 'no longer required');
      walk(ctx, pb.schemas.get(name) ?? {}, pa.schemas.get(name) ?? {}, at(name), stack);
    }
  }
}

interface VisibleProperties {
  names: Set<string>;
  required: Set<string>;
  schemas: Map<string, unknown>;
}

/** readOnly fields are not part of a request, writeOnly fields not part of a response. */
function visibleProperties(doc: Obj, s: Obj, direction: Direction): VisibleProperties {
  const schemas = new Map<string, unknown>();
  const hidden = new Set<string>();
  for (const [name, p] of Object.entries(isObj(s.properties) ? s.properties : {})) {
    const resolved = deref(doc, p).value;
    if ((direction === 'request' && resolved?.readOnly === true) || (direction === 'response' && resolved?.writeOnly === true)) {
      hidden.add(name);
    } else {
      schemas.set(name, p);
    }
  }
  const required = new Set(strings(s.required).filter((n) => !hidden.has(n)));
  return { names: new Set([...schemas.keys(), ...required]), required, schemas };
}

function items(ctx: SchemaDiffContext, b: Obj, a: Obj, path: string, stack: string[], emit: Emit): void {
  if (b.items === undefined && a.items === undefined) return;
  if (b.items !== undefined && a.items !== undefined) {
    walk(ctx, b.items, a.items, `${path}[]`, stack);
    return;
  }
  emitBound(ctx.direction, a.items === undefined ? 'widened' : 'narrowed', `${code('items')} ${a.items === undefined ? 'removed' : 'added'}`, emit);
}

function variants(ctx: SchemaDiffContext, b: Obj, a: Obj, path: string, stack: string[], emit: Emit): void {
  const vb = variantMap(ctx.before, b);
  const va = variantMap(ctx.after, a);
  if (!vb && !va) return;
  if (!vb || !va) {
    emit('unclassified-change', `${code('oneOf')}/${code('anyOf')} ${vb ? 'removed' : 'introduced'}`);
    return;
  }
  const req = ctx.direction === 'request';
  for (const [key, schema] of vb) {
    const other = va.get(key);
    if (other === undefined) emit(req ? 'request-variant-removed' : 'response-variant-removed', `variant ${code(key)} removed`);
    else walk(ctx, schema, other, `${path}${path ? ' ' : ''}(${key})`, stack);
  }
  for (const key of va.keys()) {
    if (!vb.has(key)) emit(req ? 'request-variant-added' : 'response-variant-added', `variant ${code(key)} added`);
  }
}

function variantMap(doc: Obj, s: Obj): Map<string, unknown> | undefined {
  const list = [...arr(s.oneOf), ...arr(s.anyOf)];
  if (list.length === 0) return undefined;
  const map = new Map<string, unknown>();
  list.forEach((variant, index) => {
    const { value, ref } = deref(doc, variant);
    const type = value?.type;
    const typeKey = typeof type === 'string' ? type : Array.isArray(type) ? strings(type).join('|') : undefined;
    let key = refName(ref) ?? (typeof value?.title === 'string' ? value.title : undefined) ?? typeKey ?? `#${index + 1}`;
    if (map.has(key)) key = `${key}#${index + 1}`;
    map.set(key, variant);
  });
  return map;
}

function defaults(b: Obj, a: Obj, direction: Direction, emit: Emit): void {
  if (direction !== 'request' || same(b.default, a.default)) return;
  if (b.default === undefined) emit('documentation', `default ${show(a.default)} documented`);
  else emit('request-default-changed', `default ${show(b.default)} → ${show(a.default)}`);
}

function show(value: unknown): string {
  return value === undefined ? 'none' : code(value);
}

function values(list: string[]): string {
  return list.map((v) => code(JSON.parse(v))).join(', ');
}

function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
