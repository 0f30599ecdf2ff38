// The live event stream (`GET /api/v1/events`, Server-Sent Events) over `fetch`: it works in browsers and
// in Node alike and, unlike `EventSource`, sends the client's credentials (`Authorization`, `X-API-Key`).
// The request goes through the client itself, so it gets the client's auth (session token with refresh on
// expiry, `token` option, API key), request id and retries. After a dropped connection it reconnects on
// its own, after the server's `retry:` delay (with jitter), backing off exponentially while attempts
// fail, and resumes with `Last-Event-ID`, so nothing is missed within the server's replay window.
import { createOpsdeckClient, type OpsdeckClient, type OpsdeckClientOptions } from './client.ts';
import { OpsdeckError } from './errors.ts';
import type { EventChannel, EventType, StreamEvent } from './types.ts';

/** The event types this SDK knows; a stream's other types (added in a later minor version) are skipped. */
export const EVENT_TYPES = [
  'task.completed',
  'task.failed',
  'task.cancelled',
  'task.created',
  'alert.triggered',
  'alert.acknowledged',
  'alert.resolved',
  'deployment.finished',
  'agent.enrolled',
  'agent.offline',
] as const satisfies readonly EventType[];

// Every type of the contract is in the list: a type added to the spec without it fails to compile here.
type Missing = Exclude<EventType, (typeof EVENT_TYPES)[number]>;
const everyType: [Missing] extends [never] ? true : { missing: Missing } = true;
void everyType;

const KNOWN: ReadonlySet<string> = new Set(EVENT_TYPES);

export interface SubscribeEventsOptions {
  /** The channels to receive; by default every channel the caller may read. One it may not read is a 403. */
  channels?: EventChannel[];
  /** Only this team's events (one of the caller's teams). */
  teamId?: string;
  /** Resume after this stream position (the `id` of the last event received earlier). */
  lastEventId?: string;
  /** Aborting it ends the subscription, like `close()`. */
  signal?: AbortSignal;
  /**
   * Told each event, in stream order. `id` is its stream position (what `lastEventId` resumes after; not
   * the event's own `event.id`, which stays the same when an event is delivered twice). A promise is awaited
   * before the next event is read. If it throws, the subscription ends and `closed` rejects with that error.
   */
  onEvent(event: StreamEvent, message: { id: string }): void | Promise<void>;
  /**
   * Told each failure. With `retryInMs` the subscription reconnects after that long (a dropped connection,
   * a network error, 429, 5xx); without it the failure ends the subscription (400, 401, 403: it would only
   * fail again) and `closed` rejects with it.
   */
  onError?(error: unknown, reconnect: { retryInMs: number } | undefined): void;
  /** Told each time a connection is open (200), before any event of it. */
  onOpen?(response: Response): void;
  /** The longest wait between attempts while they keep failing. Default 30 000. */
  maxRetryDelayMs?: number;
  /**
   * A connection that brings nothing, not even the server's keep-alive comment, for this long is taken for
   * dead (a half-open TCP connection) and replaced. Default 45 000 (three times the server's default
   * keep-alive); 0 turns it off.
   */
  idleTimeoutMs?: number;
}

export interface EventSubscription {
  /** Ends the subscription: the connection closes and no reconnect follows. `closed` then resolves. */
  close(): void;
  /** Resolves when the subscription ended by `close()` or the signal; rejects with the error that ended it otherwise. */
  readonly closed: Promise<void>;
  /** The stream position of the last event handled: keep it to resume in a later run (`lastEventId`). */
  readonly lastEventId: string | undefined;
}

/** Before the server has said (`retry:`): how long to wait before reconnecting. */
const DEFAULT_RETRY_MS = 3000;
/** Statuses that would only fail again: the subscription ends. */
const FINAL_STATUSES = new Set([400, 401, 403, 404, 405, 406]);

/**
 * Receives the caller's events as they happen, with reconnects and resumption; the caller's teams and
 * channel permissions decide which. `client` is a client made by `createOpsdeckClient` (its auth is
 * used), or the options to make one.
 *
 * ```ts
 * const subscription = subscribeEvents(opsdeck, {
 *   channels: ['alerts'],
 *   onEvent(event) {
 *     if (event.event === 'alert.triggered') console.log(event.data.title); // data: Alert
 *   },
 * });
 * // … later
 * subscription.close();
 * ```
 */
export function subscribeEvents(client: OpsdeckClient | OpsdeckClientOptions, options: SubscribeEventsOptions): EventSubscription {
  const opsdeck = isClient(client) ? client : createOpsdeckClient(client);
  const stopper = new AbortController();
  const external = options.signal;
  if (external?.aborted) stopper.abort(external.reason);
  else external?.addEventListener('abort', () => stopper.abort(external.reason), { once: true });
  const state = { lastEventId: options.lastEventId };
  const closed = subscribe(opsdeck, options, state, stopper.signal);
  // The rejection is the caller's to see through `closed` (and `onError`); unobserved, it is not a crash.
  closed.catch(() => {});
  return {
    close: () => stopper.abort(),
    closed,
    get lastEventId() {
      return state.lastEventId;
    },
  };
}

function isClient(value: OpsdeckClient | OpsdeckClientOptions): value is OpsdeckClient {
  return typeof (value as OpsdeckClient).GET === 'function';
}

/** Ends one connection (idle) without ending the subscription. */
class IdleConnection extends Error {
  override readonly name = 'IdleConnection';
}

async function subscribe(client: OpsdeckClient, options: SubscribeEventsOptions, state: { lastEventId: string | undefined }, stop: AbortSignal): Promise<void> {
  const maxDelay = options.maxRetryDelayMs ?? 30_000;
  const idleTimeout = options.idleTimeoutMs ?? 45_000;
  let retryMs = DEFAULT_RETRY_MS;
  let failures = 0;

  while (!stop.aborted) {
    let delay: number;
    try {
      const connection = new AbortController();
      const signal = AbortSignal.any([stop, connection.signal]);
      const { data, error, response } = await client.GET('/api/v1/events', {
        params: {
          query: { ...(options.channels ? { channels: options.channels } : {}), ...(options.teamId ? { team_id: options.teamId } : {}) },
          ...(state.lastEventId ? { header: { 'Last-Event-ID': state.lastEventId } } : {}),
        },
        // The stream, or the error envelope of a refusal.
        headers: { Accept: 'text/event-stream, application/json;q=0.9' },
        parseAs: 'stream',
        signal,
      });
      if (!response.ok || !data) {
        const refused = OpsdeckError.fromResponse(response, error);
        if (FINAL_STATUSES.has(response.status)) throw new Final(refused);
        failures += 1;
        delay = Math.max(backoff(retryMs, failures, maxDelay), retryAfterMs(response) ?? 0);
        options.onError?.(refused, { retryInMs: delay });
      } else if (!(response.headers.get('Content-Type') ?? '').startsWith('text/event-stream')) {
        await data.cancel().catch(() => {});
        throw new Final(new Error(`GET /api/v1/events answered ${response.headers.get('Content-Type') ?? 'no Content-Type'}, not text/event-stream: is baseUrl an Opsdeck server?`));
      } else {
        failures = 0;
        options.onOpen?.(response);
        await read(data, connection, idleTimeout, {
          retry: (ms) => (retryMs = ms),
          message: async (message) => {
            if (message.data !== '') await deliver(message, options);
            // Only a position moves the resume point (an empty `id:` would send an empty Last-Event-ID).
            if (message.lastEventId) state.lastEventId = message.lastEventId;
          },
        });
        if (stop.aborted) break;
        // The server ended the stream (it stops, the credential expired, this client fell behind), or it
        // dropped: reconnect soon, spread out so that many clients do not all come back at once.
        delay = retryMs / 2 + Math.random() * (retryMs / 2);
      }
    } catch (err) {
      if (stop.aborted) break;
      if (err instanceof Final) {
        options.onError?.(err.error, undefined);
        throw err.error;
      }
      if (err instanceof HandlerFailed) throw err.error;
      failures += 1;
      delay = backoff(retryMs, failures, maxDelay);
      options.onError?.(err, { retryInMs: delay });
    }
    await sleep(delay, stop);
  }
}

/** A failure that ends the subscription. */
class Final {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** `onEvent` threw: the subscription ends with its error. */
class HandlerFailed {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

async function deliver(message: SseMessage, options: SubscribeEventsOptions): Promise<void> {
  let event: StreamEvent;
  try {
    event = JSON.parse(message.data) as StreamEvent;
  } catch {
    return; // not an Opsdeck event (the server writes JSON): skipped, like a type this SDK does not know
  }
  if (typeof event !== 'object' || event === null || !KNOWN.has(event.event)) return;
  try {
    await options.onEvent(event, { id: message.lastEventId ?? '' });
  } catch (err) {
    throw new HandlerFailed(err);
  }
}

/** Reads one connection's messages until it ends; an idle connection is aborted (IdleConnection). */
async function read(
  body: ReadableStream<Uint8Array>,
  connection: AbortController,
  idleTimeout: number,
  on: { retry(ms: number): void; message(message: SseMessage): Promise<void> },
): Promise<void> {
  const reader = body.getReader();
  // UTF-8, as the format requires; the decoder drops a leading byte-order mark and keeps a character split
  // between chunks for the next one.
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let idle: ReturnType<typeof setTimeout> | undefined;
  const watch = () => {
    if (idleTimeout <= 0) return;
    clearTimeout(idle);
    idle = setTimeout(() => connection.abort(new IdleConnection(`No data, not even a keep-alive, for ${idleTimeout} ms`)), idleTimeout);
  };
  try {
    watch();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      watch();
      for (const item of parser.push(decoder.decode(value, { stream: true }))) {
        if (typeof item === 'number') on.retry(item);
        else await on.message(item);
      }
    }
  } catch (err) {
    // An idle connection was aborted: its reason is the error, not the AbortError the read threw.
    throw connection.signal.aborted && connection.signal.reason instanceof IdleConnection ? connection.signal.reason : err;
  } finally {
    clearTimeout(idle);
    await reader.cancel().catch(() => {});
  }
}

/** A message of the stream as the SSE format defines it. */
export interface SseMessage {
  /** The event type (`event:`), `message` when the message names none. */
  event: string;
  /** The `data:` lines, joined by line feeds. */
  data: string;
  /** The last event ID after this message (`id:` persists from one message to the next). */
  lastEventId: string | undefined;
}

/**
 * The parser of the SSE format (HTML Living Standard, "Interpreting an event stream"): lines end with CRLF,
 * LF or CR (also split across chunks); `:` starts a comment; a field without a colon has an empty value;
 * one space after the colon is dropped; an `id` with NUL is ignored; `retry` counts only when all digits;
 * a blank line dispatches, and a message without data is not dispatched. Written here, some 60 lines, rather
 * than taken as a dependency, so the SDK keeps openapi-fetch as its only one. It takes text: decode the
 * bytes as UTF-8 first (TextDecoder drops the byte-order mark, as the format asks).
 */
export class SseParser {
  #pending = '';
  #skipLineFeed = false;
  #data: string[] = [];
  #event = '';
  #hasId = false;
  #lastEventId: string | undefined;

  /** The messages (and `retry:` values, as numbers) that this chunk of text completes, in order. */
  push(chunk: string): Array<SseMessage | number> {
    const out: Array<SseMessage | number> = [];
    let text = chunk;
    if (this.#skipLineFeed && text.length > 0) {
      // The chunk before ended with CR: a LF starting this one is the second half of that CRLF.
      if (text.startsWith('\n')) text = text.slice(1);
      this.#skipLineFeed = false;
    }
    text = this.#pending + text;
    const lineBreak = /\r\n|\r|\n/g;
    let start = 0;
    for (let match = lineBreak.exec(text); match; match = lineBreak.exec(text)) {
      this.#line(text.slice(start, match.index), out);
      start = match.index + match[0].length;
      if (match[0] === '\r' && start === text.length) this.#skipLineFeed = true;
    }
    this.#pending = text.slice(start);
    return out;
  }

  #line(line: string, out: Array<SseMessage | number>): void {
    if (line === '') {
      // A message without data is not dispatched, but an `id:` in it still moves the last event ID.
      if (this.#data.length > 0 || this.#hasId) out.push({ event: this.#event || 'message', data: this.#data.join('\n'), lastEventId: this.#lastEventId });
      this.#data = [];
      this.#event = '';
      this.#hasId = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id') {
      if (!value.includes('\0')) {
        this.#lastEventId = value;
        this.#hasId = true;
      }
    } else if (field === 'retry') {
      if (/^\d+$/.test(value)) out.push(Number(value));
    }
  }
}

/** Exponential backoff with full jitter: a random wait below `base × 2^(failures − 1)`, capped. */
function backoff(base: number, failures: number, max: number): number {
  return Math.random() * Math.min(max, base * 2 ** Math.max(0, failures - 1));
}

function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('Retry-After')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
