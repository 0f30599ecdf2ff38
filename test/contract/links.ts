// The contract's OpenAPI `links`, followed the way a stateful client or tester follows them: a link names
// an operation and fills its parameters with runtime expressions (`$response.body#/data/id`,
// `$request.path.team_id`) evaluated on the answer that carries the link.
import type { OpenAPIV3_1 } from 'openapi-types';
import { operationsById, resolveRef, type OperationInfo } from '../../server/contract.ts';

export interface LinkContext {
  /** The answer's parsed body (the whole envelope). */
  body?: unknown;
  /** The path parameters of the request that got the answer. */
  path?: Record<string, string>;
}

/** The response object an operation declares for a status. */
export function responseOf(operationId: string, status: string): OpenAPIV3_1.ResponseObject {
  const info = operationsById.get(operationId);
  if (!info) throw new Error(`no operation ${operationId}`);
  const response = info.operation.responses?.[status];
  if (!response) throw new Error(`${operationId} declares no ${status} answer`);
  return resolveRef<OpenAPIV3_1.ResponseObject>(response as never);
}

/** The links of one answer of an operation, by name. */
export function linksOf(operationId: string, status: string): Record<string, OpenAPIV3_1.LinkObject> {
  const links = responseOf(operationId, status).links ?? {};
  return Object.fromEntries(Object.entries(links).map(([name, link]) => [name, resolveRef<OpenAPIV3_1.LinkObject>(link as never)]));
}

/** A JSON pointer (RFC 6901) into a value; `undefined` where it leads nowhere. */
function pointer(value: unknown, path: string): unknown {
  if (path === '') return value;
  return path
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), value);
}

/** The value of a runtime expression this contract uses (OpenAPI 3.1, "Runtime Expressions"). */
export function evaluate(expression: string, context: LinkContext): unknown {
  if (expression.startsWith('$response.body#')) return pointer(context.body, expression.slice('$response.body#'.length));
  if (expression.startsWith('$request.path.')) return context.path?.[expression.slice('$request.path.'.length)];
  throw new Error(`runtime expression not understood: ${expression}`);
}

/** The operation a link leads to. */
export function linkTarget(link: OpenAPIV3_1.LinkObject): OperationInfo {
  const target = link.operationId ? operationsById.get(link.operationId) : undefined;
  if (!target) throw new Error(`link to ${link.operationId ?? link.operationRef ?? '(nothing)'}: no such operation`);
  return target;
}

/** The path a link leads to, from the answer (`context`) that carries it. */
export function linkedPath(operationId: string, status: string, linkName: string, context: LinkContext): string {
  const link = linksOf(operationId, status)[linkName];
  if (!link) throw new Error(`${operationId} ${status} has no link ${linkName}`);
  const parameters = (link.parameters ?? {}) as Record<string, string>;
  return linkTarget(link).path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = name in parameters ? evaluate(parameters[name]!, context) : undefined;
    if (typeof value !== 'string' || value === '') throw new Error(`${operationId} ${status} ${linkName}: no value for ${name}`);
    return encodeURIComponent(value);
  });
}
