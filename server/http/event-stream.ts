// Server-Sent Events answers (`text/event-stream`, HTML Living Standard §9.2). A handler of such an
// operation answers `{ status: 200, stream }` (see operation-types.ts); the binder then writes the status and
// the headers (the framework's — request id, rate limits — were set before, by the guard), flushes them, and
// runs `stream` with a sink until it returns, then ends the answer. Errors before that (bad parameters, a
// permission) are ordinary error envelopes, because the handler throws them before it answers a stream.
// The sink's signal aborts when the client goes away or the server stops (`OpenStreams.closeAll`), so
// a graceful stop is not held up by connections that would otherwise stay open for hours. Nothing of the
// JSON path touches a stream: the binder answers it before its ETag and Cache-Control logic, and response
// validation (express-openapi-validator) checks `res.json` bodies only, so it never sees the stream's writes
// (the contract tests check each message against StreamEvent instead).
import type { Response } from 'express';
import type { RequestContext } from './request-context.ts';

export interface SseMessage {
  /** The stream position a client resumes after (`Last-Event-ID`). */
  id?: string;
  /** The event type (`event:`); clients default to `message`. */
  event?: string;
  /** The payload; a value with line breaks goes as several `data:` lines, as the format requires. */
  data?: string;
  /** How long a client should wait before reconnecting, in milliseconds. */
  retry?: number;
}

export interface EventStreamSink {
  /** Writes one message; answers false when the connection's buffer is over its high-water mark. */
  send(message: SseMessage): boolean;
  /** Writes a comment (`: text`), which clients ignore: it keeps proxies from closing an idle connection. */
  comment(text: string): boolean;
  /** Bytes written but not yet taken by the operating system: how far behind the client is. */
  readonly buffered: number;
  /** Resolves once the buffer has drained, or at once when the stream is over. */
  drained(): Promise<void>;
  /** Aborts when the client goes away or the server stops; the stream should then return. */
  readonly signal: AbortSignal;
}

/** The answer of a `text/event-stream` operation: writes to the sink until it returns or the signal aborts. */
export type EventStream = (sink: EventStreamSink) => Promise<void>;

export const STREAM_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  // A stream is never stored or replayed by a cache.
  'Cache-Control': 'no-store',
  // nginx (and proxies that honour it) would otherwise buffer the answer and deliver messages late.
  'X-Accel-Buffering': 'no',
  // When the server ends a stream (it stops, the credential expired), the connection closes with it rather
  // than lingering as an idle keep-alive one: a client reconnects after `retry` anyway.
  Connection: 'close',
};

/** Why the server ended a stream on its side: it is stopping. */
export class ServerStopping extends Error {
  constructor() {
    super('the server is stopping');
    this.name = 'ServerStopping';
  }
}

/** The server's open streams, so that stopping ends them and waits until they have ended. */
export class OpenStreams {
  readonly #open = new Map<AbortController, Promise<void>>();
  #stopping = false;

  get size(): number {
    return this.#open.size;
  }

  /** Whether the server is stopping (`closeAll` was called): a new stream would end at once. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Runs one stream to its end; its controller is aborted at once when the server is already stopping. */
  run(work: (controller: AbortController) => Promise<void>): Promise<void> {
    const controller = new AbortController();
    if (this.#stopping) controller.abort(new ServerStopping());
    const ended = work(controller).finally(() => this.#open.delete(controller));
    this.#open.set(controller, ended);
    return ended;
  }

  /** Ends every open stream (and any opened from now on) and resolves once they have all ended. */
  async closeAll(): Promise<void> {
    this.#stopping = true;
    for (const controller of this.#open.keys()) controller.abort(new ServerStopping());
    await Promise.allSettled([...this.#open.values()]);
  }
}

const LINE_BREAK = /\r\n|\r|\n/;

/** One field's value may not break its line; `id` may not hold NUL either (clients ignore such an id). */
function singleLine(field: string, value: string): string {
  if (LINE_BREAK.test(value) || (field === 'id' && value.includes('\0'))) throw new Error(`SSE ${field} must be one line: ${JSON.stringify(value)}`);
  return value;
}

export function formatMessage(message: SseMessage): string {
  let text = '';
  if (message.id !== undefined) text += `id: ${singleLine('id', message.id)}\n`;
  if (message.event !== undefined) text += `event: ${singleLine('event', message.event)}\n`;
  if (message.retry !== undefined) {
    if (!Number.isInteger(message.retry) || message.retry < 0) throw new Error(`SSE retry must be a whole number of milliseconds, got ${message.retry}`);
    text += `retry: ${message.retry}\n`;
  }
  if (message.data !== undefined) for (const line of message.data.split(LINE_BREAK)) text += `data: ${line}\n`;
  return `${text}\n`;
}

export const formatComment = (text: string): string => `: ${singleLine('comment', text)}\n\n`;

/**
 * Answers a request with a stream: status 200, the stream headers, then the stream's messages until it
 * returns (or the client goes away, or the server stops). The access log's line comes when the answer
 * closes, whichever way.
 */
export function answerWithStream(ctx: RequestContext, res: Response, stream: EventStream, streams: OpenStreams): Promise<void> {
  return streams.run(async (controller) => {
    const { signal } = controller;
    const gone = () => controller.abort(new Error('the client went away'));
    res.once('close', gone);
    // It may have gone already, while the handler read the replay: its 'close' is then past.
    if (res.destroyed) gone();
    res.status(200);
    for (const [name, value] of Object.entries(STREAM_HEADERS)) res.setHeader(name, value);
    res.flushHeaders();

    const open = () => !signal.aborted && !res.writableEnded && !res.destroyed;
    const write = (text: string): boolean => (open() ? res.write(text) : false);
    const sink: EventStreamSink = {
      send: (message) => write(formatMessage(message)),
      comment: (text) => write(formatComment(text)),
      get buffered() {
        return res.writableLength;
      },
      drained: () =>
        new Promise<void>((resolve) => {
          if (!open() || !res.writableNeedDrain) return resolve();
          const done = () => {
            res.off('drain', done);
            signal.removeEventListener('abort', done);
            resolve();
          };
          res.on('drain', done);
          signal.addEventListener('abort', done);
        }),
      signal,
    };
    try {
      await stream(sink);
    } catch (err) {
      // The status is sent: all that can be done is to end the stream; the client resumes with Last-Event-ID.
      ctx.log.error({ err }, 'event stream failed');
    } finally {
      res.off('close', gone);
      if (!res.writableEnded && !res.destroyed) res.end();
    }
  });
}
