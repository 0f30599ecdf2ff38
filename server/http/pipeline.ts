// The request pipeline: one Express route per operation of the operation table (operation-table.ts), and
// every step an operation's request goes through, in order, in this one file:
//
//   deprecation → authenticate → limit → permit → parse body (raw bytes: left to stream) → (limit per presented
//     credential) → validate → precondition → idempotency → handler → conditional answer → envelope or file
//     (any failure: error envelope)   → audit
//
// Each step is a small function of the operation's table entry and the request; what one step hands to a later
// one travels in the typed RequestContext the pipeline creates (request-context.ts), or is returned. Nothing
// per request redoes what could be decided at start-up: the route is matched once, by Express, and the
// validator is handed that match (patches/express-openapi-validator+*.patch).
import { createHash, randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import typeis from 'type-is';
import type { TLSSocket } from 'node:tls';
import type { Authenticator, Credentials } from '../auth/authenticate.ts';
import type { Caller } from '../auth/caller.ts';
import { ENROLLMENT_TOKEN_PREFIX } from '../auth/secrets.ts';
import type { ChangeFeedFollower } from '../db/change-feed.ts';
import { withDatabaseDeadline } from '../db/database.ts';
import { etagOf, matches } from '../edge/conditional.ts';
import type { IdempotencyStore } from '../edge/idempotency.ts';
import type { RateLimitPolicy } from '../edge/rate-limit.ts';
import type { Logger } from '../logger.ts';
import type { RequestMetrics } from '../observability/metrics.ts';
import { traceRequest, tracingOn } from '../observability/tracing.ts';
import { announceDeprecation, setHeaders } from './deprecation.ts';
import { errorBody, send, sendError, successBody } from './envelope.ts';
import { toApiError } from './to-api-error.ts';
import { ApiError, movedOn } from './errors.ts';
import { answerWithStream, type EventStream, type OpenStreams } from './event-stream.ts';
import { answerWithSocket, type SocketSession } from './websocket.ts';
import { answerWithFile, type FileAnswer } from './file-answer.ts';
import { operationTable, type OperationEntry } from './operation-table.ts';
import type { HandlerMap, OperationId, StreamedBody } from './operation-types.ts';
import { beginRequest, type RequestContext } from './request-context.ts';
import type { StaticTokens } from './static-token.ts';
import { RAW_SECURITY_HEADERS } from './security-headers.ts';

/** What the pipeline needs, wired by app.ts. */
export interface PipelineDeps {
  handlers: HandlerMap;
  authenticator: Authenticator;
  limits: RateLimitPolicy;
  idempotency: IdempotencyStore;
  streams: OpenStreams;
  /** express-openapi-validator's middleware chain (validator.ts). */
  validator: RequestHandler[];
  audit: AuditSink;
  /** The change feed the per-process caches follow: read again after a write, so this process reflects it before it answers. */
  feed: Pick<ChangeFeedFollower, 'refresh' | 'applyLocal'>;
  log: Logger;
  bodyLimitBytes: number;
  /** DB_TIMEOUT_MS: what a request's waits on the database may add up to (times the operation's `x-database-budget`). */
  databaseTimeoutMs: number;
  /** Counts answers, refusals and replays for GET /metrics (observability/metrics.ts). */
  metrics: RequestMetrics;
  /** The configured static bearer tokens (METRICS_TOKEN for `metricsToken`). */
  staticTokens: StaticTokens;
}

/** One audit record: who did which operation, on what, and how it ended (the audit module stores it). */
export interface AuditEntry {
  operationId: OperationId;
  caller: Caller | null;
  /** The email a refused sign-in tried, when the operation is the sign-in. */
  attemptedEmail: string | null;
  method: string;
  path: string;
  /** The id it acted on: the one it created (Location), else the last path parameter. */
  targetId: string | null;
  teamId: string | null;
  requestId: string;
  status: number;
  errorCode: string | null;
}

export interface AuditSink {
  record(entry: AuditEntry, log: Logger): void;
}

interface Result {
  status: number;
  headers?: Record<string, string>;
  body?: object;
  stream?: EventStream;
  /** `101`: the WebSocket session that takes over the connection. */
  socket?: SocketSession;
  /** An answer in a declared non-JSON media type, sent as it is (the metrics; a certificate, DER or PEM). */
  text?: { mediaType: string; body: string | Uint8Array };
  /** A file, streamed (file-answer.ts). */
  file?: FileAnswer;
  /** The envelope already made for this answer (kept for its Idempotency-Key, so a replay is the same to the byte). */
  envelope?: object | undefined;
}
type AnyHandler = (input: { params: unknown; query: unknown; headers: unknown; body: unknown; caller: Caller | null; ctx: RequestContext }) => Promise<Result>;

/** How a request ended, for the audit step. */
interface Outcome {
  result: Result | undefined;
  error: ApiError | undefined;
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="opsdeck"' };

// ── the routes ─────────────────────────────────────────────────────────────────────────────────────────────

/** Fails start-up when the handler map and the spec's operations are not the same set. */
export function assertHandlersMatchSpec(handlers: Record<string, unknown>): void {
  const inSpec = new Set<string>(operationTable.keys());
  const bound = new Set(Object.keys(handlers));
  const missing = [...inSpec].filter((id) => !bound.has(id));
  const extra = [...bound].filter((id) => !inSpec.has(id));
  if (missing.length || extra.length) {
    throw new Error(
      `handlers do not match the spec: ${missing.length ? `no handler for ${missing.join(', ')}` : ''}` +
        `${missing.length && extra.length ? '; ' : ''}${extra.length ? `no operation for ${extra.join(', ')}` : ''}`,
    );
  }
}

/**
 * One route per operation, path by path (literal paths first, so `/pipelines/bulk` is never taken for
 * `/pipelines/{pipeline_id}`), each path followed by a route answering 405 to the methods it does not have:
 * as OpenAPI matches, a request for a literal path is that path's, whatever its method.
 */
export function operationRoutes(deps: PipelineDeps): Router {
  assertHandlersMatchSpec(deps.handlers);
  const router = Router();
  const parser = jsonBodyParser(deps.bodyLimitBytes);
  const byPath = new Map<string, OperationEntry[]>();
  for (const op of operationTable.values()) byPath.set(op.expressPath, [...(byPath.get(op.expressPath) ?? []), op]);
  for (const [path, ops] of byPath) {
    // The database part of a request (its caller, its precondition, its handler) shares one budget, DB_TIMEOUT_MS
    // times the operation's `x-database-budget`; what runs after the answer (the audit record, a stream's later
    // checks) has its own.
    for (const op of ops) {
      const budgetMs = deps.databaseTimeoutMs * op.databaseBudget;
      const run = (req: Request, res: Response) => withDatabaseDeadline(() => runOperation(op, req, res, deps, parser), answeredOf(res), budgetMs);
      // Traced (observability/tracing.ts), the request is a server span named by its operationId, active while it runs.
      router[op.method](path, (req: Request, res: Response) => (tracingOn ? traceRequest(op, req, res, () => run(req, res)) : run(req, res)));
    }
    const allow = ops.map((op) => op.method.toUpperCase()).join(', ');
    router.all(path, (req: Request, res: Response) => {
      const ctx = beginRequest(req, res, deps.log, null, {});
      answerError(ctx, res, new ApiError('RES_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}`, { headers: { Allow: allow } }));
      deps.metrics.unmatched(res.statusCode);
    });
  }
  return router;
}

/**
 * Whether the request has answered, for its database deadline's scope, without keeping the response once it is
 * over. The scope lives as long as the request's async context, and that outlives the request: Node makes the
 * socket's keep-alive timer as the answer ends, inside this context, and the timer keeps it until the
 * connection's next request. A scope whose check held the response kept each connection's last request and
 * response (tens of kilobytes) alive that long, through the young generation's collections and into the old one.
 * Its own function, so that its closure shares no context with one that holds the request.
 */
function answeredOf(res: Response): () => boolean {
  let open: Response | undefined = res;
  res.once('close', () => (open = undefined));
  return () => open === undefined || open.headersSent;
}

/** The answer to a request that matches no operation, and to what fails before any route (a malformed path). */
export function unmatched(log: Logger, metrics?: Pick<RequestMetrics, 'unmatched'>): { notFound: RequestHandler; failed: (err: unknown, req: Request, res: Response, next: () => void) => void } {
  return {
    notFound: (req, res) => {
      const ctx = beginRequest(req, res, log, null, {});
      answerError(ctx, res, new ApiError('RES_NOT_FOUND', `No route ${req.method} ${req.path}`));
      metrics?.unmatched(res.statusCode);
    },
    failed: (err, req, res) => {
      const ctx = beginRequest(req, res, log, null, {});
      answerError(ctx, res, toApiError(err, ctx, req));
      metrics?.unmatched(res.statusCode);
    },
  };
}

/**
 * A request Node's HTTP parser refuses (a NUL or another byte no header may hold, a malformed request line or
 * chunk) never reaches a route: it is answered here, in the envelope, and its connection closed. Headers over
 * the limit and a request that took too long get Node's own 431 and 408.
 */
export function parserRefusal(log: Logger): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  const plain = { HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large', ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout' } as Record<string, string>;
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const status = err.code ? plain[err.code] : undefined;
    if (status) return void socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    const requestId = `req_${randomUUID()}`;
    log.info({ request_id: requestId, code: err.code, status: 400 }, 'request refused by the HTTP parser');
    const body = JSON.stringify(errorBody({ requestId, startedAt: performance.now() }, { code: 'VAL_MALFORMED_REQUEST', message: 'The request is not valid HTTP (a header or the request line holds a byte it may not)' }));
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-ID: ${requestId}\r\n${RAW_SECURITY_HEADERS}Connection: close\r\n\r\n${body}`,
    );
  };
}

// ── one request, top to bottom ─────────────────────────────────────────────────────────────────────────────

async function runOperation(op: OperationEntry, req: Request, res: Response, deps: PipelineDeps, parser: RequestHandler): Promise<void> {
  const ctx = beginRequest(req, res, deps.log, op.operationId, { ...(req.params as Record<string, string>) }, op.successLogLevel);
  const outcome: Outcome = { result: undefined, error: undefined };
  // An operation that declares `Cache-Control: no-store` answers a secret: no answer of it is kept anywhere.
  if (op.noStore) res.setHeader('Cache-Control', 'no-store');
  try {
    await deprecation(op, ctx, res, deps);
    ctx.caller = await authenticate(op, ctx, req, res, deps);
    await limit(op, ctx, res, deps, ctx.caller);
    permit(op, ctx.caller);
    await parseBody(op, req, res, parser);
    const streamed = streamedBody(op, req);
    if (countsPerCredential(op)) await limitPresented(op, ctx, req, res, deps);
    await validate(ctx, req, res, deps, outcome);
    const input = { params: req.params, query: req.query, headers: headersOf(op, req), body: (streamed ?? req.body) as unknown, caller: ctx.caller, ctx };
    await precondition(op, ctx, req, deps, input);
    const work = () => handle(op.operationId, deps, input);
    outcome.result = await idempotently(op, ctx, req, res, deps, countsPerCredential(op) ? () => refusalSpends(op, ctx, res, deps, work) : work);
    await settle(op, ctx, deps, outcome.result);
    if (outcome.result) await answer(op, ctx, req, res, deps, outcome.result);
  } catch (err) {
    outcome.error = toApiError(err, ctx, req);
    // A streamed body left unread (a refused upload) is not drained: the connection closes after the answer.
    if (op.streamedBody && !req.complete) res.setHeader('Connection', 'close');
    answerError(ctx, res, outcome.error);
  }
  audit(op, ctx, req, res, deps, outcome);
  deps.metrics.answered(op, res.statusCode, ctx.startedAt);
}

/** A deprecated operation's answers carry its deprecation; past its sunset it is gone for everyone (410). */
async function deprecation(op: OperationEntry, ctx: RequestContext, res: Response, deps: PipelineDeps): Promise<void> {
  if (!op.deprecation) return;
  const gone = announceDeprecation(op.deprecation, ctx.params, res);
  if (!gone) return;
  // Saying so spends from the client address's bucket, as bad credentials do, so it is no free flood target.
  await limit(op, ctx, res, deps, null);
  throw gone;
}

/**
 * The caller, from the request's credentials (null for a public operation). Refused credentials spend from
 * the client address's bucket, so guessing them is limited too; a database that fails while a credential is
 * checked is the server's fault, not the client's, and spends nothing (503).
 */
async function authenticate(op: OperationEntry, ctx: RequestContext, req: Request, res: Response, deps: PipelineDeps): Promise<Caller | null> {
  if (op.permission === null) {
    if (op.tokenScheme) deps.staticTokens.check(op.tokenScheme, header(req, 'authorization'));
    return null;
  }
  const credentials = { authorization: header(req, 'authorization'), apiKey: header(req, 'x-api-key'), clientCertificate: clientCertificate(req) };
  ctx.reauthenticate = () => deps.authenticator.authenticate(credentials);
  let caller: Caller | null;
  try {
    caller = await deps.authenticator.authenticate(credentials);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    await limit(op, ctx, res, deps, null);
    throw new ApiError(err.code, err.message, { headers: CHALLENGE });
  }
  if (!caller) {
    await limit(op, ctx, res, deps, null);
    throw new ApiError('AUTH_REQUIRED', 'Authentication is required', { headers: CHALLENGE });
  }
  return caller;
}

/** Spends one token from the caller's bucket (its key, user or agent; else its address), per `x-rate-limit`. */
async function limit(op: OperationEntry, ctx: RequestContext, res: Response, deps: PipelineDeps, caller: Caller | null): Promise<void> {
  if (res.hasHeader('X-RateLimit-Bucket') || countsPerCredential(op)) return;
  const identity = caller ? (caller.agentId ? `agent:${caller.agentId}` : caller.apiKeyId ? `api_key:${caller.apiKeyId}` : `user:${caller.userId}`) : null;
  spend(res, await deps.limits.check(op.rateLimit, { identity, tier: caller?.tier ?? null, clientIp: ctx.clientIp }), () => deps.metrics.rateLimited(op, caller?.tier ?? null));
}

/** A limiter counted per the credential the request presents (`per` in `x-rate-limits`), not per address. */
const countsPerCredential = (op: OperationEntry) => op.rateLimit.kind === 'limiter' && op.rateLimit.per !== 'client_address';

/**
 * The limit of an operation counted per presented credential (enrolment: per enrollment token, which is in the
 * body): once the body is read, its token's bucket is spent (keyed by the token's digest, so knowing a token's
 * public prefix does not let anyone drain its bucket); a body without one spends from the address's bucket.
 */
async function limitPresented(op: OperationEntry, ctx: RequestContext, req: Request, res: Response, deps: PipelineDeps): Promise<void> {
  const rule = op.rateLimit;
  if (rule.kind !== 'limiter' || rule.per === 'client_address') return;
  const token = (req.body as Record<string, unknown> | undefined)?.[rule.per];
  // The label (in X-RateLimit-Bucket) is the token's public prefix when it has one, never what the client sent otherwise.
  const presented = typeof token === 'string' ? { digest: createHash('sha256').update(token).digest('hex'), label: ENROLLMENT_TOKEN_PREFIX.exec(token)?.[0] ?? 'unrecognised' } : undefined;
  spend(res, await deps.limits.check(op.rateLimit, { identity: null, tier: null, clientIp: ctx.clientIp, ...(presented && { presented }) }), () => deps.metrics.rateLimited(op, null));
}

/**
 * For an operation counted per presented credential: a credential that is refused (401) also spends from the
 * client address's bucket, so guessing stays limited.
 */
async function refusalSpends(op: OperationEntry, ctx: RequestContext, res: Response, deps: PipelineDeps, work: () => Promise<Result>): Promise<Result> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      spend(res, await deps.limits.check({ kind: 'tier' }, { identity: null, tier: null, clientIp: ctx.clientIp }), () => deps.metrics.rateLimited(op, null));
    }
    throw err;
  }
}

/** The verdict's headers; a refusal is counted (`refused`) and answered 429 with Retry-After. */
function spend(res: Response, verdict: Awaited<ReturnType<PipelineDeps['limits']['check']>>, refused: () => void): void {
  if (!verdict) return;
  res.setHeader('X-RateLimit-Limit', String(verdict.limit));
  res.setHeader('X-RateLimit-Remaining', String(verdict.remaining));
  res.setHeader('X-RateLimit-Reset', String(verdict.reset));
  res.setHeader('X-RateLimit-Bucket', verdict.bucket);
  if (!verdict.allowed) {
    refused();
    throw new ApiError('RATE_LIMIT_EXCEEDED', `Rate limit exceeded; retry in ${verdict.retryAfter} seconds`, { headers: { 'Retry-After': String(verdict.retryAfter) } });
  }
}

/** The one permission the operation requires (permissions are checked before the body is read or validated). */
function permit(op: OperationEntry, caller: Caller | null): void {
  if (op.permission !== null && !caller?.permissions.has(op.permission)) {
    throw new ApiError('PERM_DENIED', `This operation requires the permission ${op.permission}`);
  }
}

/** The JSON body parser (`application/json`, `application/*+json`), made once for all routes. */
function jsonBodyParser(limitBytes: number): RequestHandler {
  return express.json({ limit: limitBytes, strict: false, type: (r) => Boolean(typeis(r, ['application/json', 'application/*+json'])) });
}

/** The body, read only by operations that take one and only once the caller may call it; raw bytes are never parsed. */
function parseBody(op: OperationEntry, req: Request, res: Response, parser: RequestHandler): Promise<void> {
  return op.takesBody && !op.streamedBody ? runMiddleware([parser], req, res) : Promise.resolve();
}

/**
 * Raw bytes (`format: binary`) stay unread for the handler to stream, with the media type and length the client
 * stated. The validator is shown `application/octet-stream` as their type instead: it compiles and keeps one
 * validator per Content-Type it meets, and the type of raw bytes is the client's free choice (any media type).
 */
function streamedBody(op: OperationEntry, req: Request): StreamedBody | undefined {
  if (!op.streamedBody) return undefined;
  const mediaType = header(req, 'content-type')?.trim();
  req.headers['content-type'] = 'application/octet-stream';
  const length = header(req, 'content-length');
  return { mediaType: mediaType || undefined, declaredLength: length === undefined ? undefined : Number(length), stream: req };
}

/**
 * express-openapi-validator against the bundled contract: parameters, headers and body; in development and
 * tests it also hooks the answer, so a body the contract does not allow is caught when it is sent.
 * Such a late failure (after this step returned) comes back through `outcome`, see `lateFailure`.
 */
function validate(ctx: RequestContext, req: Request, res: Response, deps: PipelineDeps, outcome: Outcome): Promise<void> {
  return runMiddleware(deps.validator, req, res, (err) => lateFailure(ctx, req, res, outcome, err));
}

/** `If-Match` on a write: compared with the representation its path's GET answers now; the write then applies only to that version. */
async function precondition(op: OperationEntry, ctx: RequestContext, req: Request, deps: PipelineDeps, input: Parameters<AnyHandler>[0]): Promise<void> {
  const ifMatch = header(req, 'if-match');
  if (!op.representation || ifMatch === undefined) return;
  const current = await handle(op.representation, deps, input);
  if (!matches(ifMatch, etagOf(current.body))) throw movedOn('resource');
  const updatedAt = (current.body as { data?: { updated_at?: unknown } } | undefined)?.data?.updated_at;
  if (typeof updatedAt === 'string') ctx.expectedUpdatedAt = updatedAt;
}

/**
 * `Idempotency-Key` on an operation that declares it: the first request with a key does the work and its
 * answer is kept; the same request again gets that answer (`Idempotent-Replayed: true`), answered here
 * (the result is then `undefined`); a refusal is kept like a success; anything else frees the key.
 */
async function idempotently(op: OperationEntry, ctx: RequestContext, req: Request, res: Response, deps: PipelineDeps, work: () => Promise<Result>): Promise<Result | undefined> {
  const key = op.idempotent ? header(req, 'idempotency-key') : undefined;
  if (key === undefined) return work();
  const caller = ctx.caller;
  const scope = caller ? (caller.apiKeyId ? `api_key:${caller.apiKeyId}` : `user:${caller.userId}`) : `ip:${ctx.clientIp}`;
  const storeKey = `${scope}:${createHash('sha256').update(key).digest('hex')}`;
  const fingerprint = createHash('sha256').update(`${req.method} ${req.originalUrl}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
  const begun = await deps.idempotency.begin(storeKey, fingerprint);
  if (begun.kind === 'replay') {
    deps.metrics.replayed(op);
    setHeaders(res, begun.answer.headers);
    res.setHeader('Idempotent-Replayed', 'true');
    send(res, begun.answer.status, begun.answer.body);
    return undefined;
  }
  try {
    const result = await work();
    const envelope = successBody(ctx, result.status, result.body);
    await deps.idempotency.finish(storeKey, fingerprint, { status: result.status, headers: result.headers ?? {}, body: envelope }, begun.claim);
    return { ...result, envelope };
  } catch (err) {
    const refusal = err instanceof ApiError && err.status < 500 ? err : undefined;
    if (refusal) await deps.idempotency.finish(storeKey, fingerprint, { status: refusal.status, headers: refusal.headers ?? {}, body: errorBody(ctx, refusal) }, begun.claim);
    else await deps.idempotency.release(storeKey, begun.claim);
    throw err;
  }
}

/**
 * After a successful write by a user (or an anonymous caller: enrolment replaces agent keys), this process
 * reads the change feed once more, so its caches reflect the write (who may do what, the agent changed) before
 * the answer says it is done; other processes follow within the feed's ceiling. An agent's own write (a
 * heartbeat, a report, a task's result) changes no identity and at most its own row: this process drops its
 * copy of that agent at once, without a read of the feed per heartbeat.
 */
async function settle(op: OperationEntry, ctx: RequestContext, deps: PipelineDeps, result: Result | undefined): Promise<void> {
  if (op.method === 'get' || !result || result.status >= 400) return;
  const agentId = ctx.caller?.agentId;
  if (agentId) deps.feed.applyLocal({ kind: 'agent_row', subject: agentId });
  else await deps.feed.refresh();
}

/** The operation's handler, bound by operationId. */
function handle(operationId: OperationId, deps: PipelineDeps, input: Parameters<AnyHandler>[0]): Promise<Result> {
  return (deps.handlers[operationId] as unknown as AnyHandler)(input);
}

/**
 * The answer: a stream runs until it ends; a WebSocket session takes over the connection; a GET's 200 carries a strong ETag, its Cache-Control and
 * Last-Modified, and is `304` when If-None-Match names that ETag; everything else is the envelope.
 */
async function answer(op: OperationEntry, ctx: RequestContext, req: Request, res: Response, deps: PipelineDeps, result: Result): Promise<void> {
  setHeaders(res, result.headers ?? {});
  if (result.stream) return answerWithStream(ctx, res, result.stream, deps.streams);
  if (result.socket) return answerWithSocket(ctx, req, res, result.socket, deps.streams);
  if (result.text) {
    if (op.cacheControl && !res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', op.cacheControl);
    const body = typeof result.text.body === 'string' ? result.text.body : Buffer.from(result.text.body);
    return void res.status(result.status).type(result.text.mediaType).send(body);
  }
  if (result.file) return answerWithFile(req, res, result.file, op.cacheControl);
  if (op.method === 'get' && result.status === 200) {
    const etag = etagOf(result.body);
    res.setHeader('ETag', etag);
    if (op.cacheControl) res.setHeader('Cache-Control', op.cacheControl);
    const updatedAt = (result.body as { data?: { updated_at?: unknown } } | undefined)?.data?.updated_at;
    if (typeof updatedAt === 'string') res.setHeader('Last-Modified', new Date(updatedAt).toUTCString());
    const ifNoneMatch = header(req, 'if-none-match');
    if (ifNoneMatch !== undefined && matches(ifNoneMatch, etag)) return send(res, 304, undefined);
  }
  send(res, result.status, result.envelope ?? successBody(ctx, result.status, result.body));
}

/** Any failure, as the error envelope with its code's status and headers. */
function answerError(ctx: RequestContext, res: Response, error: ApiError): void {
  if (res.headersSent) {
    ctx.log.error({ err: error }, 'error after the response started');
    res.destroy();
    return;
  }
  for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
  sendError(res, ctx, error.status, error);
}

/**
 * The answer failed response validation while it was being sent (it was not sent). A success body the
 * contract does not allow is a bug: logged, and answered 500. An error envelope with a status the operation
 * does not declare still goes to the client as it is, and the log names the violation.
 */
function lateFailure(ctx: RequestContext, req: Request, res: Response, outcome: Outcome, err: unknown): void {
  const violation = (err as { errors?: unknown }).errors;
  if (res.headersSent) return void res.destroy();
  if (outcome.error) {
    ctx.log.error({ err, code: outcome.error.code, method: req.method, path: req.path }, 'error response violates the contract');
    res.status(outcome.error.status).type('application/json').end(JSON.stringify(errorBody(ctx, outcome.error)));
    return;
  }
  ctx.log.error({ err, contract_violation: violation, method: req.method, path: req.path }, 'response violates the contract');
  outcome.error = new ApiError('SYS_INTERNAL_ERROR', 'An unexpected error occurred');
  res.status(500).type('application/json').end(JSON.stringify(errorBody(ctx, outcome.error)));
}

/** The last step: a mutating operation's request is recorded, answered or refused (`x-audit`). */
function audit(op: OperationEntry, ctx: RequestContext, req: Request, res: Response, deps: PipelineDeps, outcome: Outcome): void {
  if (!op.audited) return;
  const location = res.getHeader('location');
  const created = typeof location === 'string' ? location.split('/').at(-1) : undefined;
  const teamId = ctx.params.team_id ?? (outcome.result?.body as { data?: { team_id?: unknown } } | undefined)?.data?.team_id;
  const email = (req.body as { email?: unknown } | undefined)?.email;
  deps.audit.record(
    {
      operationId: op.operationId,
      caller: ctx.caller,
      attemptedEmail: op.operationId === 'login' && typeof email === 'string' ? email.slice(0, 254) : null,
      method: req.method,
      path: req.originalUrl.split('?')[0]!.slice(0, 2048),
      targetId: (created ?? Object.values(ctx.params).at(-1) ?? null)?.slice(0, 64) ?? null,
      teamId: typeof teamId === 'string' && /^[0-9a-f-]{36}$/i.test(teamId) ? teamId : null,
      requestId: ctx.requestId,
      status: res.statusCode,
      errorCode: outcome.error?.code ?? null,
    },
    ctx.log,
  );
}

// ── helpers of the steps ───────────────────────────────────────────────────────────────────────────────────

/**
 * The client certificate of a request on the TLS listener (mutual TLS; server.ts asks for one and trusts the Opsdeck
 * CA only): its serial number and SHA-256 fingerprint when the handshake verified it, `'refused'` when one was
 * presented that did not verify (another issuer, expired), `undefined` on plain HTTP or without one. Read once per
 * connection.
 */
const peerCertificates = new WeakMap<TLSSocket, Credentials['clientCertificate']>();
function clientCertificate(req: Request): Credentials['clientCertificate'] {
  const socket = req.socket as TLSSocket;
  if (!socket.encrypted) return undefined;
  if (peerCertificates.has(socket)) return peerCertificates.get(socket);
  const peer = socket.getPeerCertificate();
  const presented = peer !== null && typeof peer === 'object' && typeof peer.serialNumber === 'string' && peer.serialNumber.length > 0;
  const value: Credentials['clientCertificate'] = !presented
    ? undefined
    : socket.authorized
      ? { serialNumber: peer.serialNumber.toLowerCase(), fingerprint256: peer.fingerprint256.replace(/:/g, '').toLowerCase() }
      : 'refused';
  peerCertificates.set(socket, value);
  return value;
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The request's values of the operation's header parameters (the validator has checked them), by their declared names. */
function headersOf(op: OperationEntry, req: Request): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of op.headerParameters) {
    const value = header(req, name.toLowerCase());
    if (value !== undefined) values[name] = value;
  }
  return values;
}

/**
 * Runs Express middleware as one step. `late` receives an error that a middleware reports after the step
 * is over (the response validator reports from inside `res.json`).
 */
function runMiddleware(chain: readonly RequestHandler[], req: Request, res: Response, late?: (err: unknown) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let index = 0;
    let settled = false;
    const next = (err?: unknown): void => {
      if (settled) {
        if (err !== undefined && late) late(err);
        return;
      }
      if (err !== undefined && err !== 'route' && err !== 'router') {
        settled = true;
        return reject(err);
      }
      const middleware = chain[index++];
      if (!middleware) {
        settled = true;
        return resolve();
      }
      try {
        const returned = middleware(req, res, next) as unknown;
        if (returned instanceof Promise) returned.catch(next);
      } catch (error) {
        next(error);
      }
    };
    next();
  });
}

