// What a request field restricted to a list of values (an `enum`, or a `oneOf` of `const`s such as EventType)
// may be, read from the contract, so that a refused value is told the values and, when one is near, which it
// probably meant (`pipeline.completed` → `pipeline.run.completed`). The validator reports only "must match
// exactly one schema in oneOf", which names neither.
import type { OpenAPIV3_1 } from 'openapi-types';
import { operationsById, resolveRef } from '../contract.ts';

interface Schema {
  $ref?: string;
  title?: string;
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  items?: Schema;
}

/** The values are listed up to this many characters (an error message holds 1,024); a longer list is named by its schema's title. */
const LISTED_CHARS = 600;

function schemaAt(root: Schema | undefined, path: readonly string[]): Schema | undefined {
  let node = root && resolveRef<Schema>(root);
  for (const key of path) {
    if (!node) return undefined;
    const next = node.properties?.[key] ?? (/^\d+$/.test(key) ? node.items : undefined) ?? node.allOf?.map((part) => schemaAt(part, [key])).find(Boolean);
    node = next && resolveRef<Schema>(next);
  }
  return node;
}

function constantsOf(schema: Schema | undefined): string[] | undefined {
  if (!schema) return undefined;
  const values = schema.enum ?? (schema.oneOf?.every((branch) => 'const' in branch) ? schema.oneOf.map((branch) => branch.const) : undefined);
  return values?.every((value) => typeof value === 'string') ? (values as string[]) : undefined;
}

/** The schema of a request's part: `body` with its path, or a parameter (`query`, `path`) by name then its path. */
function requestSchema(operationId: string, where: string, path: readonly string[]): Schema | undefined {
  const operation = operationsById.get(operationId)?.operation;
  if (!operation) return undefined;
  if (where === 'body') {
    const body = operation.requestBody && resolveRef<OpenAPIV3_1.RequestBodyObject>(operation.requestBody);
    const media = body?.content['application/json'] ?? Object.values(body?.content ?? {})[0];
    return schemaAt(media?.schema as Schema | undefined, path);
  }
  const [name, ...rest] = path;
  const parameter = (operation.parameters ?? [])
    .map((p) => resolveRef<OpenAPIV3_1.ParameterObject>(p))
    .find((p) => p.name === name && p.in === where);
  return schemaAt(parameter?.schema as Schema | undefined, rest);
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * What to tell a refused `value` at `where` (`body`, `query`) and `path` of the operation's request when the
 * field allows only a list of values; `undefined` for any other field, or a value that is on the list (refused
 * for another reason).
 */
export function allowedValuesMessage(operationId: string | null, where: string, path: readonly string[], value: unknown): string | undefined {
  if (operationId === null || typeof value !== 'string') return undefined;
  const schema = requestSchema(operationId, where, path);
  const values = constantsOf(schema);
  if (!values || values.includes(value)) return undefined;
  const joined = values.join(', ');
  const list = joined.length <= LISTED_CHARS ? `: ${joined}` : ` of ${schema?.title ?? 'its schema'} (${values.length})`;
  const [nearest] = values.map((candidate) => ({ candidate, d: distance(value, candidate) })).sort((x, y) => x.d - y.d);
  const near = nearest && nearest.d <= Math.max(2, Math.floor(value.length / 3)) ? `; did you mean "${nearest.candidate}"?` : '';
  // The validator's own wording for an `enum` (which lists the values too), so both read alike.
  return `must be equal to one of the allowed values${list}${near}`;
}
