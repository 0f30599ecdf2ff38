// The one place where every failure becomes the error envelope: typed ApiErrors, the validator's
// errors, body-parser errors, an unreachable database, and anything unexpected (500, no internals).
import type { ErrorRequestHandler, Request } from 'express';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { errorBody, sendError } from './envelope.ts';
import { ApiError, type ErrorDetail } from './errors.ts';
import { validationCode } from './schema-check.ts';

interface ValidatorError extends Error {
  status: number;
  errors?: Array<{ path: string; message: string; errorCode?: string }>;
  headers?: { Allow?: string };
}

interface BodyParserError extends Error {
  type: string;
  status: number;
  limit?: number;
}

function isValidatorError(err: unknown): err is ValidatorError {
  return err instanceof Error && typeof (err as ValidatorError).status === 'number' && Array.isArray((err as ValidatorError).errors);
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return err instanceof Error && typeof (err as BodyParserError).type === 'string' && typeof (err as BodyParserError).status === 'number';
}

/** `/body/tags/2` or `.body.tags[2]` → ['body', 'tags', '2'] */
function segments(path: string): string[] {
  return path.split(/[./[\]]+/).filter(Boolean);
}

function echo(value: unknown): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.length <= 256 ? value : undefined;
  return undefined;
}

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function fromValidator(err: ValidatorError, req: Request): ApiError {
  if (err.status === 404) return new ApiError('RES_NOT_FOUND', `No route ${req.method} ${req.path}`);
  if (err.status === 405) {
    return new ApiError('RES_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}`, {
      headers: err.headers?.Allow ? { Allow: err.headers.Allow } : undefined,
    });
  }
  if (err.status === 415) return new ApiError('VAL_UNSUPPORTED_MEDIA_TYPE', `Unsupported Content-Type ${req.get('content-type') ?? '(none)'}`);
  if (err.status === 413) return new ApiError('VAL_PAYLOAD_TOO_LARGE', 'The request body is too large');
  const items = err.errors ?? [];
  const inBody = items.length > 0 && items.every((e) => segments(e.path)[0] === 'body');
  const details: ErrorDetail[] = items.map((e) => {
    const [, ...rest] = segments(e.path);
    const field = rest.join('.') || segments(e.path)[0] || 'request';
    const value = inBody ? echo(valueAt(req.body, rest)) : echo(req.query[rest[0] ?? '']);
    return { field, message: e.message, ...(value === undefined ? {} : { value }) };
  });
  if (!inBody) {
    return new ApiError('VAL_INVALID_PARAMETER', details.map((d) => `${d.field}: ${d.message}`).join('; ') || err.message, { details });
  }
  const code = validationCode(
    items.map((e) => (e.errorCode?.startsWith('required') ? 'required' : e.errorCode?.startsWith('format') ? 'format' : 'other')),
  );
  return new ApiError(code, items.length > 1 ? 'The request body is invalid' : `Invalid field ${details[0]?.field}: ${details[0]?.message}`, { details });
}

function fromBodyParser(err: BodyParserError): ApiError | undefined {
  if (err.type === 'entity.parse.failed') return new ApiError('VAL_MALFORMED_REQUEST', 'The request body is not valid JSON');
  if (err.type === 'entity.too.large') return new ApiError('VAL_PAYLOAD_TOO_LARGE', `The request body exceeds ${err.limit} bytes`);
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
    return new ApiError('VAL_UNSUPPORTED_MEDIA_TYPE', err.message);
  }
  if (err.type === 'request.aborted' || err.type === 'request.size.invalid') return new ApiError('VAL_MALFORMED_REQUEST', err.message);
  return undefined;
}

/** Every failure as a typed ApiError; what is not understood is logged and becomes a 500 without internals. */
function toApiError(err: unknown, req: Request): ApiError {
  if (err instanceof ApiError) return err;
  const parsed = isBodyParserError(err) ? fromBodyParser(err) : undefined;
  if (parsed) return parsed;
  if (isDatabaseUnavailable(err)) {
    req.ctx.log.error({ err: (err as Error).message }, 'database unavailable');
    return new ApiError('EXT_DATABASE_ERROR', 'The database is not available', { headers: { 'Retry-After': '5' } });
  }
  if (isValidatorError(err) && err.status < 500) return fromValidator(err, req);
  const violation = isValidatorError(err) ? { contract_violation: err.errors } : {};
  req.ctx.log.error({ err, ...violation, method: req.method, path: req.path }, 'unexpected error');
  return new ApiError('SYS_INTERNAL_ERROR', 'An unexpected error occurred');
}

export function errorMiddleware(): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      req.ctx.log.error({ err }, 'error after the response started');
      res.destroy();
      return;
    }
    const apiError = toApiError(err, req);
    for (const [name, value] of Object.entries(apiError.headers ?? {})) res.setHeader(name, value);
    res.locals.pendingError = apiError;
    sendError(res, req.ctx, apiError.status, apiError);
  };
}

/**
 * Runs only when the error envelope itself failed response validation (a status or shape the spec does
 * not declare for the operation): the client still gets the envelope, and the log names the violation.
 */
export function undeclaredErrorMiddleware(): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const pending = res.locals.pendingError as ApiError | undefined;
    req.ctx.log.error({ err, code: pending?.code, method: req.method, path: req.path }, 'error response violates the contract');
    if (res.headersSent) return void res.destroy();
    const apiError = pending ?? new ApiError('SYS_INTERNAL_ERROR', 'An unexpected error occurred');
    res.status(apiError.status).type('application/json');
    res.end(JSON.stringify(errorBody(req.ctx, apiError)));
  };
}
