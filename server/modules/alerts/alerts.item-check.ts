// Checks one item of a bulk request against the contract's own `AlertCreate` schema, so that an item
// that breaks it fails alone instead of refusing the whole request. The rules are read from the bundled
// spec, not written a second time: this covers the keywords `AlertCreate` uses, and start-up fails if the
// schema ever uses one it does not know. Problems are reported as the validator would (codes, details).
import type { OpenAPIV3_1 } from 'openapi-types';
import type { components } from '../../../generated/openapi.d.ts';
import { resolveRef, spec, type ErrorCode } from '../../contract.ts';
import type { ErrorDetail } from '../../http/errors.ts';

type Schema = OpenAPIV3_1.SchemaObject;

export interface ItemProblem {
  code: ErrorCode;
  message: string;
  details: ErrorDetail[];
}

// Ajv's own uuid format accepts a `urn:uuid:` prefix that PostgreSQL does not; an item is held to the stricter form.
const FORMATS: Record<string, RegExp> = { uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i };
const OBJECT_KEYWORDS = new Set(['title', 'description', 'type', 'additionalProperties', 'required', 'properties', 'examples']);
const STRING_KEYWORDS = new Set(['title', 'description', 'type', 'format', 'minLength', 'maxLength', 'pattern', 'enum', 'examples']);

interface FieldRule {
  name: string;
  schema: Schema;
  pattern: RegExp | undefined;
}

function compile(name: string): { required: readonly string[]; fields: ReadonlyMap<string, FieldRule>; closed: boolean } {
  const schema = resolveRef<Schema>(spec.components?.schemas?.[name] as Schema);
  const unknown = Object.keys(schema).filter((k) => !OBJECT_KEYWORDS.has(k));
  if (schema.type !== 'object' || unknown.length > 0) throw new Error(`${name}: the bulk item check does not know ${unknown.join(', ') || 'its type'}`);
  const fields = new Map<string, FieldRule>();
  for (const [field, node] of Object.entries(schema.properties ?? {})) {
    const property = resolveRef<Schema>(node as Schema);
    const keywords = Object.keys(property).filter((k) => !STRING_KEYWORDS.has(k));
    if (property.type !== 'string' || keywords.length > 0 || (property.format && !FORMATS[property.format])) {
      throw new Error(`${name}.${field}: the bulk item check does not know ${keywords.join(', ') || property.format || 'its type'}`);
    }
    fields.set(field, { name: field, schema: property, pattern: property.pattern ? new RegExp(property.pattern, 'u') : undefined });
  }
  return { required: schema.required ?? [], fields, closed: schema.additionalProperties === false };
}

const alertCreate = compile('AlertCreate');

const echo = (value: unknown) => (typeof value === 'string' && value.length <= 256 ? { value } : {});

function fieldProblems(rule: FieldRule, value: unknown): Array<ErrorDetail & { kind: 'format' | 'other' }> {
  const { schema } = rule;
  if (typeof value !== 'string') return [{ field: rule.name, message: 'must be string', kind: 'other' }];
  const problems: Array<ErrorDetail & { kind: 'format' | 'other' }> = [];
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) {
    problems.push({ field: rule.name, message: `must NOT have fewer than ${schema.minLength} characters`, ...echo(value), kind: 'other' });
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    problems.push({ field: rule.name, message: `must NOT have more than ${schema.maxLength} characters`, ...echo(value), kind: 'other' });
  }
  if (schema.enum && !schema.enum.includes(value)) {
    problems.push({ field: rule.name, message: `must be equal to one of the allowed values: ${schema.enum.join(', ')}`, ...echo(value), kind: 'other' });
  }
  if (schema.format && !FORMATS[schema.format]!.test(value)) {
    problems.push({ field: rule.name, message: `must match format "${schema.format}"`, ...echo(value), kind: 'format' });
  }
  if (rule.pattern && !rule.pattern.test(value)) {
    problems.push({ field: rule.name, message: `must match pattern "${schema.pattern}"`, ...echo(value), kind: 'other' });
  }
  return problems;
}

/** The item as `AlertCreate`, or what is wrong with it (with the codes `createAlert` would answer). */
export function checkAlertItem(item: Record<string, unknown>): { ok: components['schemas']['AlertCreate'] } | { problem: ItemProblem } {
  const problems: Array<ErrorDetail & { kind: 'required' | 'format' | 'other' }> = [];
  for (const field of alertCreate.required) {
    if (item[field] === undefined) problems.push({ field, message: `must have required property '${field}'`, kind: 'required' });
  }
  for (const [field, value] of Object.entries(item)) {
    if (value === undefined) continue;
    const rule = alertCreate.fields.get(field);
    if (!rule) {
      if (alertCreate.closed) problems.push({ field, message: 'must NOT have additional properties', kind: 'other' });
      continue;
    }
    problems.push(...fieldProblems(rule, value));
  }
  if (problems.length === 0) return { ok: item as components['schemas']['AlertCreate'] };
  const details = problems.map(({ kind: _kind, ...detail }) => detail);
  const [first] = problems;
  if (problems.length > 1) return { problem: { code: 'VAL_MULTIPLE_ERRORS', message: 'The item is invalid', details } };
  const code: ErrorCode = first!.kind === 'required' ? 'VAL_REQUIRED_FIELD' : first!.kind === 'format' ? 'VAL_INVALID_FORMAT' : 'VAL_ERROR';
  return { problem: { code, message: `Invalid field ${first!.field}: ${first!.message}`, details } };
}
