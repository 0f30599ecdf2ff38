// The setting keys, as the contract declares them once (the root's `x-settings`): read here and nowhere else.
// Each key's value schema is compiled when the server starts, and its default checked against it: a default the
// schema refuses, or a schema that does not compile, stops the start naming the key.
import { rootExtensions, type SettingDeclaration } from '../../contract.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import { dataSchemaChecker, type SchemaProblem } from '../../http/schema-check.ts';

export type SettingValue = SettingDeclaration['default'];

export interface SettingKey extends SettingDeclaration {
  key: string;
  check: (value: unknown) => SchemaProblem | null;
}

function compile(key: string, declaration: SettingDeclaration): SettingKey {
  const checker = dataSchemaChecker(declaration.schema as Record<string, unknown>, 'value');
  if ('invalid' in checker) throw new Error(`x-settings.keys.${key}: its schema does not compile: ${checker.invalid}`);
  const refused = checker.check(declaration.default);
  if (refused) throw new Error(`x-settings.keys.${key}: its default ${JSON.stringify(declaration.default)} does not satisfy its schema: ${refused.message}`);
  return { key, ...declaration, check: checker.check };
}

/** Every key, in the order the contract lists them. */
export const SETTING_KEYS: readonly SettingKey[] = Object.entries(rootExtensions['x-settings'].keys).map(([key, declaration]) => compile(key, declaration));

const byKey = new Map(SETTING_KEYS.map((declared) => [declared.key, declared]));

/** A declared key, else 404 (the key is a path parameter: an undeclared one names no resource). */
export function settingKey(key: string): SettingKey {
  const declared = byKey.get(key);
  if (!declared) throw notFound('Setting', key);
  return declared;
}

/** The value, as its key's schema allows it; else 422 naming `value`. */
export function checkedValue(declared: SettingKey, value: unknown): SettingValue {
  const problem = declared.check(value);
  if (problem) throw new ApiError(problem.code, `Invalid value for ${declared.key}: ${problem.details[0]?.message ?? 'is invalid'}`, { details: problem.details });
  return value as SettingValue;
}
