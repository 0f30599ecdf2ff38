// The handler contract, derived from the generated `operations`: a handler gets its operation's typed
// path, query and body, and may only answer with a status the spec declares, with that status's body
// and declared headers. `HandlerMap` has one handler per operationId, so a missing one fails typecheck.
import type { operations, webhooks } from '../../generated/openapi.d.ts';
import type { Caller } from '../auth/caller.ts';
import type { Readable } from 'node:stream';
import type { EventStream } from './event-stream.ts';
import type { SocketSession } from './websocket.ts';
import type { FileAnswer } from './file-answer.ts';
import type { RequestContext } from './request-context.ts';

/** The spec's `webhooks` are requests Opsdeck sends, not operations it serves. */
type WebhookOperation = { [W in keyof webhooks]: NonNullable<webhooks[W]['post']> }[keyof webhooks];

/** The operations Opsdeck serves: those of `paths` (`operations` also holds the webhooks' ones). */
export type OperationId = { [O in keyof operations]: operations[O] extends WebhookOperation ? never : O }[keyof operations];
type Operation<O extends OperationId> = operations[O];

type Present<T> = [NonNullable<T>] extends [never] ? Record<string, never> : NonNullable<T>;

export type PathParams<O extends OperationId> = Present<Operation<O>['parameters']['path']>;
export type QueryParams<O extends OperationId> = Present<Operation<O>['parameters']['query']>;
/** The header parameters the operation declares, by their declared names (`Last-Event-ID`). */
export type HeaderParams<O extends OperationId> = Present<Operation<O>['parameters']['header']>;
/**
 * The body of an operation that takes raw bytes (`application/octet-stream`, `format: binary`): left unread by the
 * pipeline, for the handler to stream, with the media type and the length the client stated.
 */
export interface StreamedBody {
  /** The request's `Content-Type`, as given; `undefined` when it has none. */
  mediaType: string | undefined;
  /** Its `Content-Length`; `undefined` for a body sent without one (chunked). */
  declaredLength: number | undefined;
  stream: Readable;
}

type BodyOf<O extends OperationId> = Operation<O> extends { requestBody: { content: infer C } }
  ? 'application/octet-stream' extends keyof C
    ? StreamedBody
    : C[keyof C]
  : Operation<O> extends { requestBody?: { content: infer C } }
    ? C[keyof C] | undefined
    : undefined;
export type RequestBody<O extends OperationId> = BodyOf<O>;

export interface HandlerInput<O extends OperationId> {
  params: PathParams<O>;
  query: QueryParams<O>;
  headers: HeaderParams<O>;
  body: RequestBody<O>;
  /** Who is calling: set for every operation that requires a permission, `null` for a public one. */
  caller: Caller | null;
  ctx: RequestContext;
}

type Responses<O extends OperationId> = Operation<O>['responses'];

/** Headers the framework sets (request id, CORS, rate limits, validators, idempotency, deprecation, a file's), never the handler. */
type FrameworkHeaders =
  | 'X-Request-ID'
  | 'Access-Control-Allow-Origin'
  | 'X-RateLimit-Limit'
  | 'X-RateLimit-Remaining'
  | 'X-RateLimit-Reset'
  | 'X-RateLimit-Bucket'
  | 'ETag'
  | 'Last-Modified'
  | 'Cache-Control'
  | 'Idempotent-Replayed'
  | 'Deprecation'
  | 'Sunset'
  | 'X-Content-Type-Options'
  | 'Content-Security-Policy'
  | 'Referrer-Policy'
  | 'Strict-Transport-Security'
  | 'Content-Length'
  | 'Content-Disposition'
  | 'Content-Range'
  | 'Accept-Ranges';

/** Response headers the handler must or may set: the declared ones, less those the framework sets itself. */
type HandlerHeaders<R> = R extends { headers: infer H }
  ? { [K in keyof H as string extends K ? never : K extends FrameworkHeaders ? never : K]: H[K] extends undefined ? never : string }
  : Record<string, never>;

/** A success body without `success` and `meta`, which the envelope adds. */
type Payload<B> = B extends { meta: unknown } ? Omit<B, 'success' | 'meta'> : B;

/**
 * An answer in a non-JSON media type the operation declares (`text/plain; version=0.0.4`, `application/pkix-cert`),
 * sent as it is, without the envelope: text, or bytes.
 */
type TextAnswer<C> = { mediaType: keyof C & string; body: string | Uint8Array };

/**
 * A `text/event-stream` answer is a stream (server/http/event-stream.ts), never a body; a file
 * (`application/octet-stream`) is a file answer (server/http/file-answer.ts); `101 Switching Protocols` is a
 * WebSocket session (server/http/websocket.ts); a JSON answer is a body.
 */
type ResultFor<S, R> = (S extends 101
  ? { status: S; socket: SocketSession; body?: undefined; stream?: undefined }
  : R extends { content: { 'text/event-stream': unknown } }
  ? { status: S; stream: EventStream; body?: undefined }
  : R extends { content: { 'application/octet-stream': unknown } }
    ? { status: S; file: FileAnswer; body?: undefined; stream?: undefined }
    : R extends { content: { 'application/json': infer B } }
      ? { status: S; body: Payload<B>; stream?: undefined }
      : R extends { content: infer C }
        ? { status: S; text: TextAnswer<C>; body?: undefined; stream?: undefined }
        : { status: S; body?: undefined; stream?: undefined }) &
  ({} extends HandlerHeaders<R> ? { headers?: HandlerHeaders<R> & Record<string, string> } : { headers: HandlerHeaders<R> & Record<string, string> });

export type HandlerResult<O extends OperationId> = {
  [S in keyof Responses<O> & number]: ResultFor<S, Responses<O>[S]>;
}[keyof Responses<O> & number];

export type Handler<O extends OperationId> = (input: HandlerInput<O>) => Promise<HandlerResult<O>>;

export type HandlerMap = { [O in OperationId]: Handler<O> };
