// Deprecated operations, as the contract declares them: `deprecated: true` with `x-deprecated-at` (when
// the deprecation took effect), `x-sunset` (when the operation stops working) and `x-successor` (the
// operationId that replaces it). Every answer of such an operation, errors included, carries
// `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and `Link: <successor>; rel="successor-version"`; once
// the sunset has passed, it answers 410 RES_GONE. The operation table (operation-table.ts) reads each
// operation's lifecycle with `deprecationOf` at start-up; a declaration the server cannot honour fails it.
import type { Response } from 'express';
import { operationsById, type OperationInfo } from '../contract.ts';
import { ApiError } from './errors.ts';
import { extensionDate } from './extension-date.ts';

export interface Deprecation {
  operationId: string;
  deprecatedAt: Date;
  sunset: Date | undefined;
  successor: OperationInfo | undefined;
}

interface DeprecationExtensions {
  deprecated?: boolean;
  'x-deprecated-at'?: unknown;
  'x-sunset'?: unknown;
  'x-successor'?: unknown;
}

const pathParams = (path: string) => [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

/** An operation's deprecation, or `undefined` when it is not deprecated; throws on a declaration that cannot be honoured. */
export function deprecationOf(info: OperationInfo, operations: ReadonlyMap<string, OperationInfo> = operationsById): Deprecation | undefined {
  const declared = info.operation as DeprecationExtensions;
  if (declared.deprecated !== true) return undefined;
  const deprecatedAt = extensionDate(info.operationId, 'x-deprecated-at', declared['x-deprecated-at']);
  // RFC 9745's header is a date, so the date must be declared.
  if (!deprecatedAt) throw new Error(`${info.operationId} is deprecated but declares no x-deprecated-at (RFC 3339 date-time)`);
  const sunset = extensionDate(info.operationId, 'x-sunset', declared['x-sunset']);
  const successorId = declared['x-successor'];
  let successor: OperationInfo | undefined;
  if (successorId !== undefined) {
    successor = typeof successorId === 'string' ? operations.get(successorId) : undefined;
    if (!successor) throw new Error(`${info.operationId}: x-successor ${JSON.stringify(successorId)} is not an operationId of the spec`);
    // The successor's link is filled from this request's path parameters, so each must have one.
    const missing = pathParams(successor.path).filter((name) => !pathParams(info.path).includes(name));
    if (missing.length > 0) throw new Error(`${info.operationId}: its successor ${successor.operationId} needs path parameters it lacks: ${missing.join(', ')}`);
  }
  return { operationId: info.operationId, deprecatedAt, sunset, successor };
}

/** The headers of every answer of a deprecated operation; `params` fill the successor's path. */
export function deprecationHeaders(deprecation: Deprecation, params: Readonly<Record<string, string>> = {}): Record<string, string> {
  const headers: Record<string, string> = { Deprecation: `@${Math.floor(deprecation.deprecatedAt.getTime() / 1000)}` };
  if (deprecation.sunset) headers.Sunset = deprecation.sunset.toUTCString();
  if (deprecation.successor) {
    const href = deprecation.successor.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
    headers.Link = `<${href}>; rel="successor-version"`;
  }
  return headers;
}

/**
 * Runs as soon as the route names the operation, before authentication: sets the deprecation headers (a
 * handler's `Link` joins the successor's, see `setHeaders`), and once the sunset has passed answers the
 * 410 RES_GONE to throw, whose answer carries them too.
 */
export function announceDeprecation(deprecation: Deprecation, params: Readonly<Record<string, string>>, res: Response, now: Date = new Date()): ApiError | undefined {
  for (const [name, value] of Object.entries(deprecationHeaders(deprecation, params))) res.setHeader(name, value);
  if (!deprecation.sunset || now.getTime() < deprecation.sunset.getTime()) return undefined;
  const info = operationsById.get(deprecation.operationId)!;
  const instead = deprecation.successor ? `; use ${deprecation.successor.method.toUpperCase()} ${deprecation.successor.path} (${deprecation.successor.operationId})` : '';
  return new ApiError('RES_GONE', `${info.method.toUpperCase()} ${info.path} was removed on ${deprecation.sunset.toISOString()}${instead}`);
}

/**
 * Sets a handler's headers. A `Link` is added to one already there (a deprecated operation's successor)
 * rather than replacing it, so pagination and successor links travel in one header.
 */
export function setHeaders(res: Response, headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    const before = name.toLowerCase() === 'link' ? res.getHeader('Link') : undefined;
    res.setHeader(name, before === undefined || before === '' ? value : value === '' ? String(before) : `${value}, ${String(before)}`);
  }
}
