// fast-check arbitraries made from the contract's own schemas, for property-based tests of the server:
// `valid(schema)` gives values the schema allows (from its types, bounds, formats, patterns, enums and examples,
// with unicode and boundary lengths), `hostile(schema)` what a careless or malicious client sends in their place
// (wrong JSON types, NULs, one past a bound, extreme numbers, dates that do not exist, empty objects), and
// `value(schema, hostility)` mixes them at every depth of a body.
import fc from 'fast-check';
import { resolveRef } from '../../server/contract.ts';

export type Schema = Record<string, unknown> & {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  examples?: unknown[];
  example?: unknown;
  default?: unknown;
};

/** Times that match the shape of RFC 3339 but name no instant. */
export const IMPOSSIBLE_DATE_TIMES = ['2026-13-01T00:00:00Z', '0000-00-00T00:00:00Z', '2026-01-01T25:00:00Z', '2026-02-30T00:00:00Z', '2026-06-30T23:59:60Z', '2026-04-31T12:00:00+01:00'];

const EXTREME_NUMBERS = [0, -0, -1, 1.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, -(2 ** 63), 1e21, 1e308, -1e308, Number.MIN_VALUE];
const WRONG_TYPES: unknown[] = [null, true, false, 0, -1, 1.5, '', 'x', '0', 'true', 'null', [], [null], {}, { a: 1 }];
/** Strings that have broken parsers and databases before: quotes, wildcards, escapes, scripts, right-to-left, combining marks, astral planes. */
const AWKWARD = ["'", '"', '%', '_', '\\', '%_%', "'; drop table agents; --", '<script>', '\u202e', 'e\u0301', '\ud83d\ude80', '\u{10ffff}', '\u200b', ' ', '\t', '\n', '\u00a0', '..', '/', '+', '*', '?', '#', '&', '=', ',', ':'];

const codePoints = (s: string) => [...s].length;
const clip = (s: string, max: number) => [...s].slice(0, max).join('');

function resolved(schema: Schema | { $ref: string } | undefined): Schema {
  return (resolveRef(schema as Schema) ?? {}) as Schema;
}

/** The types a schema allows (its `type`, or what its enum and const hold). */
function typesOf(schema: Schema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (typeof schema.type === 'string') return [schema.type];
  if (schema.properties) return ['object'];
  return [];
}

/** A lookahead at the start of a pattern (sort: no field twice) is checked after generation, not generated. */
function generationPattern(pattern: string): string {
  if (!pattern.startsWith('^(?!')) return pattern;
  let depth = 0;
  for (let i = 1; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === '(') depth++;
    else if (pattern[i] === ')' && --depth === 0) return `^${pattern.slice(i + 1)}`;
  }
  return pattern;
}

function examplesOf(schema: Schema): unknown[] {
  return [...(Array.isArray(schema.examples) ? schema.examples : []), ...(schema.example === undefined ? [] : [schema.example]), ...(schema.default === undefined ? [] : [schema.default])];
}

/** One string arbitrary per schema: making one samples it (see below), and a body asks for the same schemas often. */
const strings = new WeakMap<Schema, fc.Arbitrary<string>>();

function validString(schema: Schema): fc.Arbitrary<string> {
  let arbitrary = strings.get(schema);
  if (!arbitrary) strings.set(schema, (arbitrary = makeValidString(schema)));
  return arbitrary;
}

function makeValidString(schema: Schema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 200;
  const fits = (s: string) => codePoints(s) >= min && codePoints(s) <= max && !s.includes('\u0000');
  const regex = schema.pattern === undefined ? undefined : new RegExp(schema.pattern, 'u');
  const matches = (s: string) => fits(s) && (regex?.test(s) ?? true);
  const examples = examplesOf(schema).filter((e): e is string => typeof e === 'string' && matches(e));
  let generated: fc.Arbitrary<string>;
  switch (schema.format) {
    case 'uuid':
      generated = fc.uuid({ version: 7 });
      break;
    case 'date-time':
      generated = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString());
      break;
    case 'email':
      generated = fc.emailAddress();
      break;
    case 'uri':
      generated = fc.tuple(fc.constantFrom('http', 'https'), fc.webPath()).map(([scheme, path]) => `${scheme}://127.0.0.1:9${path.startsWith('/') ? path : `/${path}`}`);
      break;
    case 'ipv4':
      generated = fc.ipV4();
      break;
    case 'ipv6':
      generated = fc.ipV6();
      break;
    case 'hostname':
      generated = fc.domain();
      break;
    default:
      if (schema.pattern !== undefined) {
        generated = fc.stringMatching(new RegExp(generationPattern(schema.pattern), 'u'), { size: min >= 8 ? 'large' : 'small' });
      } else {
        const unit = fc.oneof(fc.constantFrom('grapheme', 'grapheme-ascii', 'binary') as fc.Arbitrary<'grapheme' | 'grapheme-ascii' | 'binary'>);
        const text = unit.chain((u) => fc.string({ unit: u, minLength: min, maxLength: Math.min(max, 40) }));
        const boundary = fc.constantFrom('x', 'é', '\ud83d\ude80', '\u202e').map((c) => c.repeat(max));
        const awkward = fc.constantFrom(...AWKWARD).map((s) => s.repeat(Math.max(1, min)));
        generated = fc.oneof({ weight: 6, arbitrary: text }, { weight: 1, arbitrary: boundary }, { weight: 2, arbitrary: awkward });
      }
  }
  const clean = generated.map((s) => clip(s.replaceAll('\u0000', ''), max));
  // A filter that rarely passes would spin for ever: such a generator gives way to the schema's examples.
  const hits = fc.sample(clean, { numRuns: 40, seed: 1 }).filter(matches).length;
  if (hits < 8) {
    if (examples.length === 0) throw new Error(`cannot generate strings for ${JSON.stringify(schema).slice(0, 200)}`);
    return fc.constantFrom(...examples);
  }
  return examples.length > 0 ? fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...examples) }, { weight: 3, arbitrary: clean.filter(matches) }) : clean.filter(matches);
}

function validNumber(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const low = schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + (integer ? 1 : Number.EPSILON) : schema.minimum;
  const high = schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - (integer ? 1 : Number.EPSILON) : schema.maximum;
  if (integer) return fc.integer({ min: Math.ceil(low ?? -(2 ** 31)), max: Math.floor(high ?? 2 ** 31 - 1) });
  return fc.double({ min: low ?? -1e9, max: high ?? 1e9, noNaN: true, noDefaultInfinity: true });
}

/** Values the schema allows; `hostility` is the chance that a value nested inside is hostile instead. */
export function valid(input: Schema | { $ref: string } | undefined, hostility = 0): fc.Arbitrary<unknown> {
  const schema = resolved(input);
  if ('const' in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.allOf) {
    const merged: Schema = { ...schema, allOf: undefined };
    for (const part of schema.allOf.map((p) => resolved(p))) {
      Object.assign(merged, { ...part, properties: { ...merged.properties, ...part.properties }, required: [...(merged.required ?? []), ...(part.required ?? [])] });
    }
    delete merged.allOf;
    return valid(merged, hostility);
  }
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches) return fc.oneof(...branches.map((b) => valid({ ...schema, oneOf: undefined, anyOf: undefined, ...resolved(b) } as Schema, hostility)));
  const types = typesOf(schema);
  if (types.length === 0) return fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
  return fc.oneof(...types.map((type) => validOfType(schema, type, hostility)));
}

function validOfType(schema: Schema, type: string, hostility: number): fc.Arbitrary<unknown> {
  switch (type) {
    case 'string':
      return validString(schema);
    case 'integer':
      return validNumber(schema, true);
    case 'number':
      return validNumber(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const item = value(schema.items, hostility);
      const constraints = { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, Math.max(schema.minItems ?? 0, 4)) };
      return schema.uniqueItems ? fc.uniqueArray(item, { ...constraints, selector: (v) => JSON.stringify(v) }) : fc.array(item, constraints);
    }
    case 'object': {
      const properties = schema.properties ?? {};
      // A map (labels, matchers): keys of its propertyNames, values of its additionalProperties, as many as it takes.
      if (Object.keys(properties).length === 0 && typeof schema.additionalProperties === 'object') {
        const keys = schema.propertyNames ? validString(schema.propertyNames) : fc.string({ minLength: 1, maxLength: 20 });
        const minKeys = schema.minProperties ?? 0;
        return fc.dictionary(keys, value(schema.additionalProperties, hostility), { minKeys, maxKeys: Math.max(minKeys, Math.min(schema.maxProperties ?? 4, 4)) });
      }
      const model = Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, value(property, hostility)]));
      const record = fc.record(model, { requiredKeys: (schema.required ?? []).filter((name) => name in properties) });
      return record.filter((o) => Object.keys(o).length >= (schema.minProperties ?? 0) && Object.keys(o).length <= (schema.maxProperties ?? Infinity));
    }
    default:
      throw new Error(`no arbitrary for type ${type}`);
  }
}

/** What a client might send where the schema asks for something else; often refused, sometimes allowed. */
export function hostile(input: Schema | { $ref: string } | undefined): fc.Arbitrary<unknown> {
  const schema = resolved(input);
  const types = typesOf(schema);
  const options: Array<fc.Arbitrary<unknown>> = [
    fc.constantFrom(...WRONG_TYPES),
    fc.constantFrom(...EXTREME_NUMBERS),
    fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `${s}\u0000${s}`),
    fc.constantFrom(...AWKWARD),
    fc.constantFrom(...IMPOSSIBLE_DATE_TIMES),
  ];
  if (schema.maxLength !== undefined) options.push(fc.constantFrom('x', '\ud83d\ude80', 'é').map((c) => c.repeat(schema.maxLength! + 1)));
  if (schema.minLength) options.push(fc.constant('x'.repeat(schema.minLength - 1)));
  if (schema.maximum !== undefined) options.push(fc.constantFrom(schema.maximum + 1, schema.maximum + 0.5));
  if (schema.minimum !== undefined) options.push(fc.constantFrom(schema.minimum - 1, schema.minimum - 0.5));
  if (schema.maxItems !== undefined && types.includes('array')) options.push(fc.array(valid(schema.items), { minLength: schema.maxItems + 1, maxLength: schema.maxItems + 1 }));
  if (types.includes('object')) {
    // Empty, one required field missing, one field too many.
    options.push(fc.constant({}));
    options.push(valid(schema).map((o) => ({ ...(o as object), unexpected_field: 'x' })));
    const required = schema.required ?? [];
    if (required.length > 0) options.push(fc.tuple(valid(schema), fc.constantFrom(...required)).map(([o, drop]) => Object.fromEntries(Object.entries(o as object).filter(([k]) => k !== drop))));
  }
  return fc.oneof(...options);
}

/** A value of the schema, hostile with probability `hostility` at this level and at every level below. */
export function value(input: Schema | { $ref: string } | undefined, hostility: number): fc.Arbitrary<unknown> {
  if (hostility <= 0) return valid(input, 0);
  const weight = Math.max(1, Math.round(hostility * 100));
  return fc.oneof({ weight: 100 - weight, arbitrary: valid(input, hostility) }, { weight, arbitrary: hostile(input) });
}
