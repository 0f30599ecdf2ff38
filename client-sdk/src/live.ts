// The live WebSocket (`GET /api/v1/events/ws`, `openEventSocket`; its protocol is the server's /asyncapi.json)
// over the global `WebSocket` of browsers and Node 24. It authenticates with its first message (the credential
// is never in the URL), subscribes to its channels, hands each event to `onEvent` typed as the contract's
// StreamEvent, and after a dropped connection (the server stopped, the client fell behind, the network) it
// reconnects with backoff, authenticates again (asking `token` again, so a fresh access token is used) and
// subscribes again with `last_event_id`, so nothing is missed within the server's replay window.
import { backoff, EVENT_TYPES, sleep } from './events.ts';
import type { ErrorCode, EventChannel, LiveClientMessage, LiveServerMessage, StreamEvent } from './types.ts';

const KNOWN: ReadonlySet<string> = new Set(EVENT_TYPES);

type Authenticated = Extract<LiveServerMessage, { type: 'authenticated' }>;

export interface ConnectLiveOptions {
  /** The server's base URL (`https://opsdeck.example.com`); the socket goes to `wss://…/api/v1/events/ws`. */
  baseUrl: string;
  /**
   * The credential sent in the `auth` message: an access token or an API key. A function is asked at every
   * (re)connection, so a session's fresh access token is used after the previous one expired.
   */
  token: string | (() => string | Promise<string>);
  /** The channels to subscribe to (again after every reconnection). Change them later with `subscribe`/`unsubscribe`. */
  channels: EventChannel[];
  /** Only this team's events (one of the caller's teams). */
  teamId?: string;
  /** Resume after this stream position (the `id` of the last event received, in an earlier run). */
  lastEventId?: string;
  /**
   * Told each event, in stream order. `id` is its stream position (what `lastEventId` resumes after), the same
   * as the Server-Sent Events stream's; types this SDK does not know (added in a later minor version) are skipped.
   */
  onEvent(event: StreamEvent, message: { id: string; channel: EventChannel }): void;
  /** Told once the socket is authenticated (each time it is), with the channels the credential may read. */
  onOpen?(authenticated: Authenticated): void;
  /**
   * Told each failure: the refusal of one channel (`error.channel` is set; the connection goes on), or the end of
   * the socket (`error.closeCode` is set): with `retryInMs` it reconnects after that long; without it the
   * connection is over and `closed` rejects with the error.
   */
  onError?(error: LiveError, reconnect: { retryInMs: number } | undefined): void;
  /** Aborting it closes the connection, like `close()`. */
  signal?: AbortSignal;
  /** The shortest and longest waits between attempts while they keep failing. Defaults 1 000 and 30 000. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Another WebSocket implementation (the global one by default). */
  WebSocket?: typeof WebSocket;
}

export interface LiveConnection {
  /** Adds channels (sent at once when connected, and on every reconnection). */
  subscribe(channels: EventChannel[]): void;
  /** Removes channels. */
  unsubscribe(channels: EventChannel[]): void;
  /** Closes the connection for good; `closed` then resolves. */
  close(): void;
  /** Resolves when closed by `close()` or the signal; rejects with the LiveError that ended it otherwise. */
  readonly closed: Promise<void>;
  /** The stream position of the last event handled: keep it to resume in a later run (`lastEventId`). */
  readonly lastEventId: string | undefined;
  /** The channels the server says this connection receives now. */
  readonly channels: readonly EventChannel[];
}

/** A refusal or the end of a live connection: `code` is the contract's error code, when the server named one. */
export class LiveError extends Error {
  override readonly name = 'LiveError';
  readonly code: ErrorCode | undefined;
  /** The WebSocket close code, when the socket closed (4000 + an HTTP status for a refusal, 1001, 1013, …). */
  readonly closeCode: number | undefined;
  /** The channel a refusal of `subscribe` concerns. */
  readonly channel: EventChannel | undefined;

  constructor(message: string, details: { code?: ErrorCode | undefined; closeCode?: number | undefined; channel?: EventChannel | undefined }) {
    super(message);
    this.code = details.code;
    this.closeCode = details.closeCode;
    this.channel = details.channel;
  }
}

/** Close codes after which reconnecting would only fail again (a bad credential, a malformed message, no permission). */
const FINAL_CLOSES = new Set([1002, 1003, 1007, 1008, 1009, 4400, 4403]);

/**
 * Opens the live WebSocket and keeps it open until `close()`.
 *
 * ```ts
 * const live = connectLive({
 *   baseUrl: 'https://opsdeck.example.com',
 *   token: apiKey,
 *   channels: ['alerts'],
 *   onEvent(event) {
 *     if (event.event === 'alert.triggered') console.log(event.data.title); // data: Alert
 *   },
 * });
 * // … later
 * live.close();
 * ```
 */
export function connectLive(options: ConnectLiveOptions): LiveConnection {
  const stopper = new AbortController();
  const external = options.signal;
  if (external?.aborted) stopper.abort(external.reason);
  else external?.addEventListener('abort', () => stopper.abort(external.reason), { once: true });
  const state: LiveState = { lastEventId: options.lastEventId, wanted: new Set(options.channels), confirmed: [], socket: undefined };
  const closed = run(options, state, stopper.signal);
  // The rejection is the caller's to see through `closed` (and `onError`); unobserved, it is not a crash.
  closed.catch(() => {});
  const send = (message: LiveClientMessage) => {
    if (state.socket?.readyState === 1 && state.authenticated) state.socket.send(JSON.stringify(message));
  };
  return {
    subscribe(channels) {
      for (const channel of channels) state.wanted.add(channel);
      send({ type: 'subscribe', channels, ...(options.teamId ? { team_id: options.teamId } : {}) });
    },
    unsubscribe(channels) {
      for (const channel of channels) state.wanted.delete(channel);
      send({ type: 'unsubscribe', channels });
    },
    close: () => stopper.abort(),
    closed,
    get lastEventId() {
      return state.lastEventId;
    },
    get channels() {
      return state.confirmed;
    },
  };
}

interface LiveState {
  lastEventId: string | undefined;
  wanted: Set<EventChannel>;
  confirmed: EventChannel[];
  socket: WebSocket | undefined;
  authenticated?: boolean;
}

async function run(options: ConnectLiveOptions, state: LiveState, stop: AbortSignal): Promise<void> {
  const minDelay = options.minRetryDelayMs ?? 1000;
  const maxDelay = options.maxRetryDelayMs ?? 30_000;
  let failures = 0;
  while (!stop.aborted) {
    let ended: LiveError;
    try {
      ended = await connectOnce(options, state, stop, () => (failures = 0));
    } catch (err) {
      ended = err instanceof LiveError ? err : new LiveError((err as Error).message, {});
    }
    if (stop.aborted) return;
    // A refused credential ends the connection, unless it expired and `token` can give a fresh one.
    const expiredButRenewable = ended.code === 'AUTH_EXPIRED_TOKEN' && typeof options.token === 'function';
    if ((ended.closeCode !== undefined && FINAL_CLOSES.has(ended.closeCode)) || (ended.closeCode === 4401 && !expiredButRenewable)) {
      options.onError?.(ended, undefined);
      throw ended;
    }
    failures += 1;
    const delay = Math.max(minDelay / 2, backoff(minDelay, failures, maxDelay));
    options.onError?.(ended, { retryInMs: delay });
    await sleep(delay, stop);
  }
}

/** One socket, from connecting to its close: answers why it ended. */
async function connectOnce(options: ConnectLiveOptions, state: LiveState, stop: AbortSignal, opened: () => void): Promise<LiveError> {
  const token = typeof options.token === 'function' ? await options.token() : options.token;
  const Socket = options.WebSocket ?? globalThis.WebSocket;
  const url = new URL('api/v1/events/ws', options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new Socket(url);
  state.socket = socket;
  state.authenticated = false;
  const send = (message: LiveClientMessage) => socket.send(JSON.stringify(message));
  let lastError: Extract<LiveServerMessage, { type: 'error' }> | undefined;
  return new Promise<LiveError>((resolve) => {
    const onAbort = () => socket.close(1000);
    stop.addEventListener('abort', onAbort, { once: true });
    socket.addEventListener('open', () => send({ type: 'auth', token }));
    socket.addEventListener('message', (frame: MessageEvent) => {
      let message: LiveServerMessage;
      try {
        message = JSON.parse(String(frame.data)) as LiveServerMessage;
      } catch {
        return; // not the server's JSON: skipped
      }
      switch (message.type) {
        case 'authenticated': {
          state.authenticated = true;
          opened();
          options.onOpen?.(message);
          const channels = [...state.wanted];
          if (channels.length > 0) {
            send({ type: 'subscribe', channels, ...(state.lastEventId ? { last_event_id: state.lastEventId } : {}), ...(options.teamId ? { team_id: options.teamId } : {}) });
          }
          break;
        }
        case 'subscribed':
        case 'unsubscribed':
          state.confirmed = message.channels;
          break;
        case 'event':
          state.lastEventId = message.id;
          if (KNOWN.has(message.event)) options.onEvent(message.data, { id: message.id, channel: message.channel });
          break;
        case 'error':
          lastError = message;
          // A channel's refusal leaves the rest of the connection as it is.
          if (message.channel) options.onError?.(new LiveError(message.message, { code: message.code, channel: message.channel }), undefined);
          // The events to resume with could not be read: a new connection subscribes (and resumes) again.
          else if (message.code === 'EXT_SERVICE_UNAVAILABLE') socket.close(1000);
          break;
      }
    });
    socket.addEventListener('close', (event: CloseEvent) => {
      stop.removeEventListener('abort', onAbort);
      state.socket = undefined;
      state.authenticated = false;
      state.confirmed = [];
      // A refusal (4000 + its status) names its error code as the close reason, after an `error` message saying why.
      const refused = event.code >= 4000 && event.code < 5000;
      const code = refused ? ((event.reason || lastError?.code) as ErrorCode) : undefined;
      const message = refused && lastError ? lastError.message : `The live connection closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`;
      resolve(new LiveError(message, { code, closeCode: event.code }));
    });
  });
}
