// Registers one route per operation of the spec, bound to its handler by operationId, with the parts
// of the edge that wrap a handler: If-Match preconditions, idempotency keys, and ETags on GETs. A
// `text/event-stream` operation's handler answers a stream, which runs until it ends (event-stream.ts).
import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { declaresParameter, operationsById, resolveRef, type OperationInfo } from '../contract.ts';
import { cacheControl, etagOf, matches, representationOf } from '../edge/conditional.ts';
import type { IdempotencyStore } from '../edge/idempotency.ts';
import { setHeaders } from './deprecation.ts';
import { errorBody, send, successBody } from './envelope.ts';
import { answerWithStream, type EventStream, type OpenStreams } from './event-stream.ts';
import { ApiError, movedOn } from './errors.ts';
import type { HandlerMap, OperationId } from './operation-types.ts';

interface Result {
  status: number;
  headers?: Record<string, string>;
  body?: object;
  stream?: EventStream;
}
type AnyHandler = (input: { params: unknown; query: unknown; headers: unknown; body: unknown; ctx: Request['ctx'] }) => Promise<Result>;

/** The header parameters an operation declares, by their declared names (`Last-Event-ID`). */
function headerParameters(info: OperationInfo): string[] {
  return (info.operation.parameters ?? []).map((p) => resolveRef<{ in?: string; name?: string }>(p as never)).flatMap((p) => (p.in === 'header' && p.name ? [p.name] : []));
}
const declaredHeaders = new Map([...operationsById.values()].map((info) => [info.operationId, headerParameters(info)]));

/** The request's values of the operation's header parameters (the validator has checked them), by their declared names. */
function headersOf(req: Request, operationId: string): Record<string, string> {
  return Object.fromEntries((declaredHeaders.get(operationId) ?? []).flatMap((name) => {
    const value = req.get(name);
    return value === undefined ? [] : [[name, value]];
  }));
}

/** `/api/v1/agents/{agent_id}` → `/api/v1/agents/:agent_id` */
export const expressPath = (specPath: string): string => specPath.replace(/\{([^}]+)\}/g, ':$1');

/** Fails start-up when the handler map and the spec's operations are not the same set. */
export function assertHandlersMatchSpec(handlers: Record<string, unknown>): void {
  const inSpec = new Set(operationsById.keys());
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

export function bindOperations(handlers: HandlerMap, idempotency: IdempotencyStore, streams: OpenStreams): Router {
  assertHandlersMatchSpec(handlers);
  const router = Router();
  const handlerOf = (operationId: string) => handlers[operationId as OperationId] as unknown as AnyHandler;
  const run = (operationId: string, req: Request) =>
    handlerOf(operationId)({ params: req.params, query: req.query, headers: headersOf(req, operationId), body: req.body, ctx: req.ctx });

  for (const [operationId, info] of operationsById) {
    const representation = representationOf.get(operationId);
    const idempotent = declaresParameter(info, 'Idempotency-Key');
    const cache = cacheControl.get(operationId);

    router[info.method](expressPath(info.path), async (req: Request, res: Response) => {
      const ifMatch = req.get('if-match');
      if (representation && ifMatch !== undefined) {
        const current = await run(representation.operationId, req);
        if (!matches(ifMatch, etagOf(current.body))) {
          throw movedOn('resource');
        }
        const updatedAt = (current.body as { data?: { updated_at?: unknown } } | undefined)?.data?.updated_at;
        if (typeof updatedAt === 'string') req.ctx.expectedUpdatedAt = updatedAt;
      }

      const key = idempotent ? req.get('idempotency-key') : undefined;
      if (key === undefined) return answer(req, res, await run(operationId, req), cache, streams);

      const caller = req.ctx.caller;
      const scope = caller ? (caller.apiKeyId ? `api_key:${caller.apiKeyId}` : `user:${caller.userId}`) : `ip:${req.ctx.clientIp}`;
      const storeKey = `${scope}:${createHash('sha256').update(key).digest('hex')}`;
      const fingerprint = createHash('sha256').update(`${req.method} ${req.originalUrl}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
      const begun = await idempotency.begin(storeKey, fingerprint);
      if (begun.kind === 'replay') {
        setHeaders(res, begun.answer.headers);
        res.setHeader('Idempotent-Replayed', 'true');
        return send(res, begun.answer.status, begun.answer.body);
      }
      try {
        const result = await run(operationId, req);
        const body = successBody(req.ctx, result.status, result.body);
        await idempotency.finish(storeKey, fingerprint, { status: result.status, headers: result.headers ?? {}, body });
        applyHeaders(req, res, result);
        return send(res, result.status, body);
      } catch (err) {
        // A refusal is the answer to this request and is replayed like a success; anything else frees
        // the key so that a retry does the work.
        if (err instanceof ApiError && err.status < 500) {
          await idempotency.finish(storeKey, fingerprint, { status: err.status, headers: err.headers ?? {}, body: errorBody(req.ctx, err) });
        } else {
          await idempotency.release(storeKey);
        }
        throw err;
      }
    });
  }
  return router;
}

function applyHeaders(req: Request, res: Response, result: Result): void {
  const teamId = (result.body as { data?: { team_id?: unknown } } | undefined)?.data?.team_id;
  if (typeof teamId === 'string') req.ctx.resourceTeamId = teamId;
  setHeaders(res, result.headers ?? {});
}

function answer(req: Request, res: Response, result: Result, cache: string | undefined, streams: OpenStreams): void | Promise<void> {
  applyHeaders(req, res, result);
  // A stream has no ETag and is never cached or replayed: event-stream.ts writes its own headers.
  if (result.stream) return answerWithStream(req, res, result.stream, streams);
  if (req.method === 'GET' && result.status === 200) {
    const etag = etagOf(result.body);
    res.setHeader('ETag', etag);
    if (cache) res.setHeader('Cache-Control', cache);
    const updatedAt = (result.body as { data?: { updated_at?: unknown } } | undefined)?.data?.updated_at;
    if (typeof updatedAt === 'string') res.setHeader('Last-Modified', new Date(updatedAt).toUTCString());
    const ifNoneMatch = req.get('if-none-match');
    if (ifNoneMatch !== undefined && matches(ifNoneMatch, etag)) return send(res, 304, undefined);
  }
  send(res, result.status, successBody(req.ctx, result.status, result.body));
}
