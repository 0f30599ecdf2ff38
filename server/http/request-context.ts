// The per-request context: created by the pipeline when a request reaches its operation's route (or by the
// fallback that answers a request matching none), passed explicitly from step to step and to the handler.
// Nothing is hung on Express's request or response objects.
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Caller } from '../auth/caller.ts';
import type { Logger } from '../logger.ts';
import { traceLogFields, tracingOn } from '../observability/tracing.ts';
import type { OperationId } from './operation-types.ts';

/** What every handler knows about the request beyond its typed inputs. */
export interface RequestContext {
  readonly requestId: string;
  readonly log: Logger;
  /** Path and query as the client sent them (for pagination links). */
  readonly url: string;
  readonly startedAt: number;
  /** The client's address (behind a proxy only when `TRUST_PROXY` says to believe X-Forwarded-For). */
  readonly clientIp: string;
  /** The operation the request matched; `null` for a request that matched none (404, 405). */
  readonly operationId: OperationId | null;
  /** The path parameters of the matched operation. */
  readonly params: Readonly<Record<string, string>>;
  /** The request's `Accept` (which the contract cannot declare as a parameter), for the operations that negotiate (`getIndex`). */
  readonly accept: string | undefined;
  /** The authenticated caller (authenticate step), or `null` (public operation, or not authenticated yet). */
  caller: Caller | null;
  /**
   * Authenticates the request's credential again, as it stands now (for answers that outlive the request's
   * start, such as event streams); throws as authentication does when it no longer holds.
   */
  reauthenticate: (() => Promise<Caller | null>) | null;
  /** From a matched If-Match (precondition step): the `updated_at` the write must still find, so a racing write cannot slip in. */
  expectedUpdatedAt: string | null;
}

/**
 * A class, not an object literal with a `log` getter: a literal's getter is a new function per request, so each
 * context had a hidden class of its own, made in the old generation and pointing at that getter, whose closure
 * held the request and its response. Those garbage hidden classes kept every request alive through the young
 * generation's collections, so all of it was moved to the old generation (a fleet's thousands a second, tens of
 * megabytes a second: 30 MB/s at 3,700 heartbeats/s, 0.3 with this class), and the full collections that cleared it
 * paused the server for 100 ms and more.
 */
class Context implements RequestContext {
  readonly requestId: string;
  readonly url: string;
  readonly startedAt = performance.now();
  readonly clientIp: string;
  readonly operationId: OperationId | null;
  readonly params: Readonly<Record<string, string>>;
  readonly accept: string | undefined;
  caller: Caller | null = null;
  reauthenticate: (() => Promise<Caller | null>) | null = null;
  expectedUpdatedAt: string | null = null;
  readonly #root: Logger;
  #child: Logger | undefined;

  constructor(root: Logger, requestId: string, req: Request, operationId: OperationId | null, params: Record<string, string>) {
    this.#root = root;
    this.requestId = requestId;
    this.url = req.originalUrl;
    this.clientIp = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    this.operationId = operationId;
    this.params = params;
    this.accept = req.headers.accept;
  }

  /** Made on first use: most requests log one access line at most, and a child logger per request is not free. */
  get log(): Logger {
    return (this.#child ??= this.#root.child({ request_id: this.requestId }));
  }
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Starts a request: takes the caller's X-Request-ID when it is a sane token, else makes one, echoes it, and
 * writes the access log line when the answer is over (a stream's too, however it ended): `info`, or `error`
 * for a 5xx; `successLevel` for a success (`debug` for an operation's steady telemetry, `x-access-log: failures`).
 */
export function beginRequest(
  req: Request,
  res: Response,
  log: Logger,
  operationId: OperationId | null,
  params: Record<string, string>,
  successLevel: 'info' | 'debug' = 'info',
): RequestContext {
  const given = req.headers['x-request-id'];
  const requestId = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : `req_${randomUUID()}`;
  res.setHeader('X-Request-ID', requestId);
  // The request's span, for its access line (written when the answer is over, outside the span's context).
  const trace = tracingOn ? traceLogFields() : undefined;
  const ctx = new Context(log, requestId, req, operationId, params);
  res.once('close', () => {
    const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : successLevel;
    if (!log.isLevelEnabled(level)) return;
    const ms = Math.round((performance.now() - ctx.startedAt) * 10) / 10;
    // `aborted`: the connection closed before the answer was complete (a client that went away mid-stream). A
    // WebSocket's answer (101) is complete once switched: its line comes when its connection closes.
    // The line carries request_id itself: a child logger made just for it would cost more than the line.
    const fields = { request_id: requestId, method: req.method, path: req.path, operation_id: operationId, status: res.statusCode, ms, ...trace };
    log[level](res.writableFinished || res.statusCode === 101 ? fields : { ...fields, aborted: true }, 'request');
  });
  return ctx;
}
