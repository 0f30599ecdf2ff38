// Checks a value against one of the contract's schemas with Ajv, the same validator library the request
// validator uses, and reports problems the way the request validator's are reported (codes, details).
// For a part of a request that must be judged on its own: one item of a bulk request, say. Schemas that are data
// rather than contract (a task template's parameters schema) are compiled with the same options and formats.
import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { spec, type ErrorCode } from '../contract.ts';
import { contractFormats, isNoNulMessage, NO_NUL_MESSAGE, stringRuleFirst, withStringRule } from './contract-rules.ts';
import { echoed, type ErrorDetail } from './errors.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** An Ajv as the request validator judges: full formats, with the contract's own (contract-rules.ts). */
function configuredAjv(options: Options = {}): Ajv2020 {
  const instance = addFormats(new Ajv2020({ strict: false, allErrors: true, validateSchema: false, ...options }));
  for (const [name, format] of Object.entries(contractFormats)) instance.addFormat(name, format);
  return instance;
}

// The contract with its string rule. Made when a checker is first used (a bulk request), like the request
// validator's schemas, not at every start.
let ajv: Ajv2020 | undefined;
function contractAjv(): Ajv2020 {
  if (ajv) return ajv;
  ajv = configuredAjv();
  ajv.addSchema(withStringRule(structuredClone(spec)) as object, 'openapi.json');
  return ajv;
}

// Data schemas get their own instance: their `$id`s are never registered (addUsedSchema), so one cannot stand in
// for another or for the contract, and each is dropped from Ajv's cache once compiled (its caller keeps the result).
let dataAjv: Ajv2020 | undefined;

export type ProblemKind = 'required' | 'format' | 'other';

/** The code of a body's problems: several → VAL_MULTIPLE_ERRORS, else by the one problem's kind. */
export function validationCode(kinds: readonly ProblemKind[]): ErrorCode {
  if (kinds.length > 1) return 'VAL_MULTIPLE_ERRORS';
  return kinds[0] === 'required' ? 'VAL_REQUIRED_FIELD' : kinds[0] === 'format' ? 'VAL_INVALID_FORMAT' : 'VAL_ERROR';
}

export interface SchemaProblem {
  code: ErrorCode;
  message: string;
  details: ErrorDetail[];
}

function valueAt(root: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), root);
}

/** `base`: the field the value stands at in its request (`template.parameters`), prefixed to every detail's field. */
function describe(all: ErrorObject[], value: unknown, base?: string): SchemaProblem {
  const errors = stringRuleFirst(all, (e) => e.instancePath, (e) => e.message);
  const problems = errors.map((e) => {
    const missing = e.keyword === 'required' ? String((e.params as { missingProperty: string }).missingProperty) : undefined;
    const path = [base, ...e.instancePath.split('/').slice(1), missing].filter((part) => part !== undefined && part !== '');
    const field = path.join('.') || '(item)';
    const noNul = isNoNulMessage(e.message);
    const kind: ProblemKind = missing ? 'required' : e.keyword === 'format' || noNul ? 'format' : 'other';
    return { kind, detail: { field, message: noNul ? NO_NUL_MESSAGE : (e.message ?? 'is invalid'), ...(missing ? {} : echoed(valueAt(value, e.instancePath))) } };
  });
  const details = problems.map((p) => p.detail);
  const code = validationCode(problems.map((p) => p.kind));
  return { code, message: details.length > 1 ? 'The item is invalid' : `Invalid field ${details[0]?.field}: ${details[0]?.message}`, details };
}

/**
 * A checker for one component schema: `null` when the value conforms, else what is wrong with it. `base`, when
 * given, is where the value stands in its request, for the details' fields.
 */
export function schemaChecker(name: string, base?: string): (value: unknown) => SchemaProblem | null {
  let validate: ValidateFunction | undefined;
  return (value) => {
    validate ??= contractAjv().compile({ $ref: `openapi.json#/components/schemas/${name}` });
    return validate(value) ? null : describe(validate.errors ?? [], value, base);
  };
}

/**
 * A checker for a JSON Schema (draft 2020-12) that is data, not contract, judged like the contract's; or why it is
 * no schema the server can use (it breaks the meta-schema, names another draft, has a `$ref` that leads nowhere…).
 * `base` is where the checked value stands in its request, for the details' fields.
 */
export function dataSchemaChecker(schema: Record<string, unknown>, base: string): { check: (value: unknown) => SchemaProblem | null } | { invalid: string } {
  dataAjv ??= configuredAjv({ addUsedSchema: false });
  const instance = dataAjv;
  try {
    if (!instance.validateSchema(schema)) return { invalid: instance.errorsText(instance.errors, { dataVar: 'schema' }) };
    const validate = instance.compile(schema);
    return { check: (value) => (validate(value) ? null : describe(validate.errors ?? [], value, base)) };
  } catch (err) {
    return { invalid: err instanceof Error ? err.message : String(err) };
  } finally {
    instance.removeSchema(schema);
  }
}
