// Checks a value against one of the contract's schemas with Ajv, the same validator library the request
// validator uses, and reports problems the way the request validator's are reported (codes, details).
// For a part of a request that must be judged on its own: one item of a bulk request, say.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { spec, type ErrorCode } from '../contract.ts';
import { contractFormats, isNoNulMessage, NO_NUL_MESSAGE, stringRuleFirst, withStringRule } from './contract-rules.ts';
import { echoed, type ErrorDetail } from './errors.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

// Full formats, with the contract's own (contract-rules.ts), on the contract with its string rule: as the request
// validator judges. Made when a checker is first used (a bulk request), like the request validator's schemas, not
// at every start.
let ajv: Ajv2020 | undefined;
function contractAjv(): Ajv2020 {
  if (ajv) return ajv;
  ajv = addFormats(new Ajv2020({ strict: false, allErrors: true, validateSchema: false }));
  for (const [name, format] of Object.entries(contractFormats)) ajv.addFormat(name, format);
  ajv.addSchema(withStringRule(structuredClone(spec)) as object, 'openapi.json');
  return ajv;
}

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

function describe(all: ErrorObject[], value: unknown): SchemaProblem {
  const errors = stringRuleFirst(all, (e) => e.instancePath, (e) => e.message);
  const problems = errors.map((e) => {
    const missing = e.keyword === 'required' ? String((e.params as { missingProperty: string }).missingProperty) : undefined;
    const field = missing ?? (e.instancePath.slice(1).replace(/\//g, '.') || '(item)');
    const noNul = isNoNulMessage(e.message);
    const kind: ProblemKind = missing ? 'required' : e.keyword === 'format' || noNul ? 'format' : 'other';
    return { kind, detail: { field, message: noNul ? NO_NUL_MESSAGE : (e.message ?? 'is invalid'), ...(missing ? {} : echoed(valueAt(value, e.instancePath))) } };
  });
  const details = problems.map((p) => p.detail);
  const code = validationCode(problems.map((p) => p.kind));
  return { code, message: details.length > 1 ? 'The item is invalid' : `Invalid field ${details[0]?.field}: ${details[0]?.message}`, details };
}

/** A checker for one component schema: `null` when the value conforms, else what is wrong with it. */
export function schemaChecker(name: string): (value: unknown) => SchemaProblem | null {
  let validate: ValidateFunction | undefined;
  return (value) => {
    validate ??= contractAjv().compile({ $ref: `openapi.json#/components/schemas/${name}` });
    return validate(value) ? null : describe(validate.errors ?? [], value);
  };
}
