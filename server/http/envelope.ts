// The response envelope of api-conventions.md: `{ success, data, meta, pagination? }` and
// `{ success: false, error, meta }`.
import type { Response } from 'express';
import { apiVersion } from '../contract.ts';
import type { RequestContext } from './request-context.ts';
import type { ErrorCode } from '../contract.ts';
import type { ErrorDetail } from './errors.ts';

export const HELP_URL = '/docs#tag/Errors';

function meta(ctx: RequestContext, withTiming: boolean) {
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

export function errorBody(ctx: RequestContext, error: ErrorLike) {
  return {
    success: false,
    error: {
      code: error.code,
      message: error.message,
      ...(error.details && error.details.length > 0 ? { details: error.details } : {}),
      help_url: HELP_URL,
    },
    meta: meta(ctx, false),
  };
}
