// The response envelope of api-conventions.md: `{ success, data, meta, pagination? }` and
// `{ success: false, error, meta }`.
import type { Response } from 'express';
import { apiVersion } from '../contract.ts';
import type { RequestContext } from './request-context.ts';
import type { ErrorCode } from '../contract.ts';
import type { ErrorDetail } from './errors.ts';

export const HELP_URL = '/docs#tag/Errors';

/** What an envelope's `meta` needs of the request. */
type MetaSource = Pick<RequestContext, 'requestId' | 'startedAt'>;

function meta(ctx: MetaSource, withTiming: boolean) {
  return {
    request_id: ctx.requestId,
    timestamp: new Date().toISOString(),
    api_version: apiVersion,
    ...(withTiming ? { execution_time_ms: Math.max(0, Math.round(performance.now() - ctx.startedAt)) } : {}),
  };
}

/** The envelope of a handler's payload; `undefined` for answers without a body (204, 304). */
export function successBody(ctx: RequestContext, status: number, payload: object | undefined): object | undefined {
  if (payload === undefined || status === 204 || status === 304) return undefined;
  return { success: status < 400, ...payload, meta: meta(ctx, true) };
}

export function send(res: Response, status: number, body: unknown): void {
  if (body === undefined) res.status(status).end();
  else res.status(status).json(body);
}

interface ErrorLike {
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[] | undefined;
}

export function sendError(res: Response, ctx: RequestContext, status: number, error: ErrorLike): void {
  res.status(status).json(errorBody(ctx, error));
}

/**
 * Text of an error that may quote the request (a path, a parameter's name), as ErrorEnvelope allows it: within
 * its length, and without U+0000, which no string of the contract holds (shown as U+FFFD).
 */
function text(value: string, maxLength: number): string {
  const clean = value.replaceAll('\u0000', '\ufffd');
  return clean.length <= maxLength ? clean : `${clean.slice(0, maxLength - 1)}…`;
}

function detail({ field, message, ...rest }: ErrorDetail): ErrorDetail {
  return { ...(field === undefined ? {} : { field: text(field, 256) }), message: text(message, 1024), ...rest };
}

export function errorBody(ctx: MetaSource, error: ErrorLike) {
  return {
    success: false,
    error: {
      code: error.code,
      message: text(error.message, 1024),
      ...(error.details && error.details.length > 0 ? { details: error.details.slice(0, 100).map(detail) } : {}),
      help_url: HELP_URL,
    },
    meta: meta(ctx, false),
  };
}
