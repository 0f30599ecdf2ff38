// What Opsdeck's validators read into the contract, in one place, for the request validator (validator.ts) and the
// schema checker of bulk items (schema-check.ts) alike, so a value is judged the same way by both:
//
// - formats are checked strictly (ajv-formats' full mode): a `date-time` must be a real instant (no month 13, no
//   30 February, no hour 25), a `uuid` the plain form PostgreSQL takes;
// - no string of the contract may hold the NUL character (U+0000), which PostgreSQL cannot store in text: one
//   rule, added to every string schema of the validators' copy of the contract as it is loaded, instead of a
//   pattern written on each field. spec/README.md and the error catalogue say so once, for readers.
import { fullFormats } from 'ajv-formats/dist/formats.js';

/** Ajv's `uuid` also accepts a `urn:uuid:` prefix, which PostgreSQL refuses; the contract means the plain form. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const fullDateTime = fullFormats['date-time'] as { validate: (value: string) => boolean };

/**
 * The formats that replace Ajv's. `date-time` is ajv-formats' full RFC 3339 check; the few strings it lets through
 * that name no instant the server can represent (a leap second, `23:59:60`) are refused with it.
 */
export const contractFormats = {
  uuid: { type: 'string', validate: (value: string) => UUID.test(value) },
  'date-time': { type: 'string', validate: (value: string) => fullDateTime.validate(value) && !Number.isNaN(Date.parse(value)) },
} as const;

/** The pattern every string of the contract is held to, in addition to its own: no U+0000. */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';

/** What a value that breaks the string rule is told (instead of Ajv's `must match pattern "…"`). */
export const NO_NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

/** Whether a validator's message is the string rule's. */
export const isNoNulMessage = (message: string | undefined): boolean => message === `must match pattern "${NO_NUL_PATTERN}"`;

/**
 * Of a validator's problems, a field that breaks the string rule keeps that problem only (a UUID or a pattern that
 * the NUL breaks too would say it again, less clearly); other fields keep theirs.
 */
export function stringRuleFirst<T>(problems: readonly T[], field: (problem: T) => string, message: (problem: T) => string | undefined): T[] {
  const broken = new Set(problems.filter((p) => isNoNulMessage(message(p))).map(field));
  return problems.filter((p) => !broken.has(field(p)) || isNoNulMessage(message(p)));
}

// Keys whose values are data (examples, defaults, constants) or extensions, never schemas, except inside a map
// of named schemas (`properties`, `components.schemas`…), where every key is a name.
const NOT_SCHEMAS = new Set(['example', 'examples', 'default', 'const', 'enum']);
const NAMED_SCHEMAS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'schemas']);

function isStringSchema(node: Record<string, unknown>): boolean {
  const type = node.type;
  return (type === 'string' || (Array.isArray(type) && type.includes('string'))) && node.enum === undefined && node.const === undefined;
}

/**
 * Adds the string rule to every string schema of a document (changed in place, and returned): the pattern
 * itself where the schema has none, else as one more `allOf` branch, so the schema's own pattern still holds.
 */
export function withStringRule<T>(document: T): T {
  const visit = (node: unknown, named: boolean): void => {
    if (Array.isArray(node)) return node.forEach((item) => visit(item, false));
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (!named && isStringSchema(record)) {
      if (record.pattern === undefined) record.pattern = NO_NUL_PATTERN;
      else record.allOf = [...((record.allOf as unknown[] | undefined) ?? []), { pattern: NO_NUL_PATTERN }];
    }
    for (const [key, value] of Object.entries(record)) {
      if (!named && (NOT_SCHEMAS.has(key) || key.startsWith('x-'))) continue;
      visit(value, !named && NAMED_SCHEMAS.has(key));
    }
  };
  visit(document, false);
  return document;
}
