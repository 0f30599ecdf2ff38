// The one place where every failure becomes a typed ApiError, which the pipeline answers as the error
// envelope: typed ApiErrors, the validator's errors, body-parser errors, a path Express could not decode,
// an unreachable database, and anything unexpected (500, no internals).
import type { Request } from 'express';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { ApiError, echoed, type ErrorDetail } from './errors.ts';
import type { RequestContext } from './request-context.ts';
import { isNoNulMessage, NO_NUL_MESSAGE, stringRuleFirst } from './contract-rules.ts';
import { validationCode } from './schema-check.ts';
import { allowedValuesMessage } from './allowed-values.ts';

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

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

type ValidatorItem = NonNullable<ValidatorError['errors']>[number];
const ALTERNATIVES = /^(anyOf|oneOf)\b/;

/**
 * A failed anyOf/oneOf comes with the error of each of its branches (IpAddress: format "ipv4", format "ipv6",
 * "must match a schema in anyOf"): one problem per field instead, a format problem when every branch failed on
 * its format.
 */
function foldAlternatives(items: ValidatorItem[]): ValidatorItem[] {
  const folded = new Set(items.filter((e) => ALTERNATIVES.test(e.errorCode ?? '')).map((e) => e.path));
  return items.flatMap((e) => {
    if (!folded.has(e.path)) return [e];
    if (!ALTERNATIVES.test(e.errorCode ?? '')) return [];
    const formats = items.filter((b) => b.path === e.path && b !== e).map((b) => /must match format "([^"]+)"/.exec(b.message)?.[1]);
    if (formats.length === 0 || !formats.every(Boolean)) return [e];
    return [{ path: e.path, message: `must match format ${formats.map((f) => `"${f}"`).join(' or ')}`, errorCode: 'format.openapi.validation' }];
  });
}

/**
 * The contract's string rule (contract-rules.ts) said as such, as a format problem, and as the one problem of its
 * field: a UUID or a pattern that a NUL breaks too is told about the NUL only.
 */
function stringRule(items: ValidatorItem[]): ValidatorItem[] {
  return stringRuleFirst(items, (e) => e.path, (e) => e.message).map((e) =>
    isNoNulMessage(e.message) ? { path: e.path, message: NO_NUL_MESSAGE, errorCode: 'format.openapi.validation' } : e,
  );
}

function fromValidator(err: ValidatorError, req: Request, operationId: string | null): ApiError {
  if (err.status === 404) return new ApiError('RES_NOT_FOUND', `No route ${req.method} ${req.path}`);
  if (err.status === 405) {
    return new ApiError('RES_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}`, {
      headers: err.headers?.Allow ? { Allow: err.headers.Allow } : undefined,
    });
  }
  if (err.status === 415) return new ApiError('VAL_UNSUPPORTED_MEDIA_TYPE', `Unsupported Content-Type ${req.get('content-type') ?? '(none)'}`);
  if (err.status === 413) return new ApiError('VAL_PAYLOAD_TOO_LARGE', 'The request body is too large');
  const items = stringRule(foldAlternatives(err.errors ?? []));
  const inBody = items.length > 0 && items.every((e) => segments(e.path)[0] === 'body');
  const details: ErrorDetail[] = items.map((e) => {
    const [where = 'request', ...rest] = segments(e.path);
    const field = rest.join('.') || where;
    const value = inBody ? valueAt(req.body, rest) : req.query[rest[0] ?? ''];
    // A parameter's value is its whole text: an item of a list parameter is not told apart from it. A NUL is
    // told about alone (contract-rules.ts).
    const hint = (inBody || rest.length === 1) && e.message !== NO_NUL_MESSAGE ? allowedValuesMessage(operationId, where, rest, value) : undefined;
    return { field, message: hint ?? e.message, ...echoed(value) };
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

/** Express could not percent-decode a path parameter (`/api/v1/agents/%FF`). */
function isMalformedPath(err: unknown): boolean {
  return err instanceof URIError && (err as URIError & { status?: number }).status === 400;
}

/** Every failure as a typed ApiError; what is not understood is logged and becomes a 500 without internals. */
export function toApiError(err: unknown, ctx: RequestContext, req: Request): ApiError {
  if (err instanceof ApiError) return err;
  const parsed = isBodyParserError(err) ? fromBodyParser(err) : undefined;
  if (parsed) return parsed;
  if (isMalformedPath(err)) return new ApiError('VAL_MALFORMED_REQUEST', 'The request path is not valid percent-encoding');
  if (isDatabaseUnavailable(err)) {
    ctx.log.error({ err: (err as Error).message }, 'database unavailable');
    return new ApiError('EXT_DATABASE_ERROR', 'The database is not available', { headers: { 'Retry-After': '5' } });
  }
  if (isValidatorError(err) && err.status < 500) return fromValidator(err, req, ctx.operationId);
  const violation = isValidatorError(err) ? { contract_violation: err.errors } : {};
  ctx.log.error({ err, ...violation, method: req.method, path: req.path }, 'unexpected error');
  return new ApiError('SYS_INTERNAL_ERROR', 'An unexpected error occurred');
}
