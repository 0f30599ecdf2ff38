// Checks one item of a bulk request against the contract's own `AlertCreate` schema, so that an item that
// breaks it fails alone instead of refusing the whole request.
import type { components } from '../../../generated/openapi.d.ts';
import { schemaChecker, type SchemaProblem } from '../../http/schema-check.ts';

export type ItemProblem = SchemaProblem;

const check = schemaChecker('AlertCreate');

/** The item as `AlertCreate`, or what is wrong with it (with the codes `createAlert` would answer). */
export function checkAlertItem(item: Record<string, unknown>): { ok: components['schemas']['AlertCreate'] } | { problem: ItemProblem } {
  const problem = check(item);
  return problem ? { problem } : { ok: item as components['schemas']['AlertCreate'] };
}
