import type { ErrorCode, ErrorDetail, ErrorEnvelope } from './types.ts';

/** What openapi-fetch's `GET`, `POST`, … resolve to. */
export interface FetchResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}

/** The `data` of a call's success envelope, or the whole body of an answer without one. */
export type Unwrapped<R> = R extends { data: infer Body; error?: never }
  ? Body extends { data: infer Data; meta: unknown }
    ? Data
    : Body
  : never;

// Only for answers that are not Opsdeck's error envelope (a proxy's page, an empty body): the code
// then follows from the status. The annotation keeps every value one of the spec's codes.
const CODE_BY_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'VAL_MALFORMED_REQUEST',
  401: 'AUTH_REQUIRED',
  403: 'PERM_DENIED',
  404: 'RES_NOT_FOUND',
  405: 'RES_METHOD_NOT_ALLOWED',
  409: 'RES_CONFLICT',
  412: 'RES_PRECONDITION_FAILED',
  413: 'VAL_PAYLOAD_TOO_LARGE',
  415: 'VAL_UNSUPPORTED_MEDIA_TYPE',
  422: 'VAL_ERROR',
  429: 'RATE_LIMIT_EXCEEDED',
  503: 'EXT_SERVICE_UNAVAILABLE',
};

/** An error answer of the API. Branch on `code`; `message` is for people and may change. */
export class OpsdeckError extends Error {
  override readonly name = 'OpsdeckError';
  readonly code: ErrorCode;
  readonly status: number;
  /** The request's id (`meta.request_id`, else the `X-Request-ID` header): quote it when reporting a problem. */
  readonly requestId: string | undefined;
  readonly details: ErrorDetail[];
  readonly helpUrl: string | undefined;
  /** The failed answer's headers (`Retry-After`, `X-RateLimit-*`, …); empty for an error made by hand. */
  readonly headers: Headers;

  constructor(init: {
    code: ErrorCode;
    message: string;
    status: number;
    requestId?: string | undefined;
    details?: ErrorDetail[] | undefined;
    helpUrl?: string | undefined;
    headers?: Headers | undefined;
  }) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.details = init.details ?? [];
    this.helpUrl = init.helpUrl;
    this.headers = init.headers ?? new Headers();
  }

  /**
   * Whether `error` is an `OpsdeckError` with one of `codes`; narrows `code` to them.
   * `if (OpsdeckError.is(e, 'RES_ALREADY_EXISTS', 'RES_CONFLICT')) …`
   */
  static is<const C extends ErrorCode>(error: unknown, ...codes: C[]): error is OpsdeckError & { readonly code: C } {
    return error instanceof OpsdeckError && (codes as ErrorCode[]).includes(error.code);
  }

  /** Builds the error from a failed answer and its parsed body (as openapi-fetch returns it in `error`). */
  static fromResponse(response: Response, body: unknown): OpsdeckError {
    const headerId = response.headers.get('X-Request-ID') ?? undefined;
    if (isErrorEnvelope(body)) {
      const { error, meta } = body;
      return new OpsdeckError({
        code: error.code,
        message: error.message,
        status: response.status,
        requestId: meta?.request_id ?? headerId,
        details: error.details,
        helpUrl: error.help_url,
        headers: response.headers,
      });
    }
    return new OpsdeckError({
      code: CODE_BY_STATUS[response.status] ?? 'SYS_INTERNAL_ERROR',
      message: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
      status: response.status,
      requestId: headerId,
      headers: response.headers,
    });
  }
}

/** A write refused because its `If-Match` named a version that is no longer current. */
export type PreconditionFailed = OpsdeckError & { readonly code: 'RES_PRECONDITION_FAILED'; readonly status: 412 };

/**
 * True for the `412 RES_PRECONDITION_FAILED` of a write sent with `If-Match`: someone changed the resource
 * since you read it. Read it again (new ETag), reapply your change, and send it with the new ETag.
 */
export function isPreconditionFailed(error: unknown): error is PreconditionFailed {
  return error instanceof OpsdeckError && error.code === 'RES_PRECONDITION_FAILED' && error.status === 412;
}

function isErrorEnvelope(body: unknown): body is ErrorEnvelope {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false;
  const { error } = body;
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string';
}

/** The body of a successful call (undefined for a 304); a failed one throws `OpsdeckError`. */
export async function unwrapBody(call: FetchResult | Promise<FetchResult>): Promise<unknown> {
  const { data, error, response } = await call;
  if (response.status === 304) return undefined;
  if (!response.ok) throw OpsdeckError.fromResponse(response, error);
  return data;
}

/**
 * The `data` of a successful call's envelope; a failed call throws `OpsdeckError`.
 * `const agent = await unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }))`
 *
 * A `304 Not Modified` is not a failure: it resolves `undefined`. Only a GET that sent its own
 * `If-None-Match` can be answered 304, and the result's type does not show that case: for conditional
 * GETs use `getIfChanged`, whose result says `notModified`.
 */
export async function unwrap<R extends FetchResult>(call: R | Promise<R>): Promise<Unwrapped<R>> {
  const body = await unwrapBody(call);
  const isEnvelope = typeof body === 'object' && body !== null && 'data' in body && 'meta' in body;
  return (isEnvelope ? body.data : body) as Unwrapped<R>;
}
