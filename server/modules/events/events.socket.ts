// The live WebSocket's protocol (`openEventSocket`; its messages are the spec's EventSocketClientMessage and
// EventSocketServerMessage, and generated/asyncapi.json describes it): the same events, rules and limits as the
// Server-Sent Events stream, by the same service. The first message authenticates, through the same
// authentication as a request's headers; each `subscribe` is one StreamConnection of the channels it adds (its
// replay after `last_event_id`, then live events, each once, in stream order), whose channels `unsubscribe` takes
// away. The socket, not each subscription, keeps the connection alive (ping frames every `keepalive_seconds`;
// one unanswered closes it) and watches the credential (its expiry, and the check made again every
// `reauthenticate_seconds`), and holds one of the caller's stream slots. Messages are handled one at a time, in
// the order they came. A refusal that ends the socket sends its `error` first and closes with 4000 + its status.
import { WebSocket, type RawData } from 'ws';
import type { components } from '../../../generated/openapi.d.ts';
import { presentedCredentials, type Credentials } from '../../auth/authenticate.ts';
import type { Caller } from '../../auth/caller.ts';
import type { Permission } from '../../auth/permissions.ts';
import { channelOf, type EventChannel, type EventType } from '../../events/catalogue.ts';
import { watchCredential, type EndReason } from '../../events/stream.ts';
import { ApiError } from '../../http/errors.ts';
import type { EventStreamSink } from '../../http/event-stream.ts';
import { schemaChecker } from '../../http/schema-check.ts';
import type { Logger } from '../../logger.ts';
import type { EventStreamService } from './events.service.ts';

type ClientMessage = components['schemas']['EventSocketClientMessage'];
type ServerMessage = components['schemas']['EventSocketServerMessage'];
type Subscribe = Extract<ClientMessage, { type: 'subscribe' }>;

const checkMessage = schemaChecker('EventSocketClientMessage');

/** RFC 6455 §7.4.1 (IANA registry): try again later; the client reconnects and resumes with `last_event_id`. */
const CLOSE_TRY_AGAIN_LATER = 1013;
/** RFC 6455 §7.4.1: the server met a condition it did not expect. */
const CLOSE_INTERNAL_ERROR = 1011;
/** A refusal closes with 4000 + the HTTP status of its error code (openEventSocket's description). */
const closeCodeOf = (error: ApiError) => 4000 + error.status;

export interface EventSocketOptions {
  events: EventStreamService;
  /** The server's authentication of a request's credentials. */
  authenticate: (credentials: Credentials) => Promise<Caller | null>;
  /** The permission the credential needs: the stream's own (`streamEvents`). */
  permission: Permission;
  log: Logger;
}

/** One `subscribe`'s channels (the set its StreamConnection matches events against) and what ends it. */
interface Running {
  readonly channels: Set<EventChannel>;
  readonly ended: AbortController;
}

export class EventSocket {
  readonly #socket: WebSocket;
  readonly #options: EventSocketOptions;
  readonly #gone = new AbortController();
  readonly #subscriptions = new Set<Running>();
  readonly #authTimer: NodeJS.Timeout;
  readonly #pings: NodeJS.Timeout;
  #caller: Caller | null = null;
  #release: (() => void) | undefined;
  #unwatch: (() => void) | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(socket: WebSocket, options: EventSocketOptions) {
    this.#socket = socket;
    this.#options = options;
    const { policy } = options.events;
    this.#authTimer = setTimeout(
      () => this.#refuse(new ApiError('AUTH_REQUIRED', `Authenticate first: send {"type":"auth","token":…} within ${policy.auth_timeout_seconds} seconds`)),
      policy.auth_timeout_seconds * 1000,
    );
    let answered = true;
    socket.on('pong', () => (answered = true));
    this.#pings = setInterval(() => {
      if (!answered) return void socket.terminate();
      answered = false;
      socket.ping();
    }, policy.keepalive_seconds * 1000);
    socket.on('message', (data, isBinary) => {
      this.#queue = this.#queue.then(() => this.#receive(data, isBinary)).catch((err: unknown) => this.#fail(err));
    });
    // `ws` reports a protocol error (a message over maxPayload: 1009) here, and closes the socket itself.
    socket.on('error', (err) => options.log.debug({ err: err.message }, 'websocket: protocol error'));
    socket.once('close', () => this.#closed());
  }

  #channels(): Set<EventChannel> {
    return new Set([...this.#subscriptions].flatMap((running) => [...running.channels]));
  }

  async #receive(data: RawData, isBinary: boolean): Promise<void> {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    let message: unknown;
    try {
      if (isBinary) throw new Error('binary');
      message = JSON.parse(data.toString());
    } catch {
      return this.#problem(new ApiError('VAL_MALFORMED_REQUEST', 'A message must be one JSON object, in a text frame'));
    }
    const problem = checkMessage(message);
    if (problem) {
      const type = (message as { type?: unknown } | null)?.type;
      const detail = problem.details[0];
      const what = typeof type === 'string' ? `${JSON.stringify(type).slice(0, 40)} message` : 'message';
      return this.#problem(new ApiError(problem.code, `Not a valid ${what}${detail ? ` (${detail.field}: ${detail.message})` : ''}; see EventSocketClientMessage`));
    }
    const valid = message as ClientMessage;
    if (!this.#caller) {
      if (valid.type === 'auth') return this.#authenticate(valid.token);
      return this.#refuse(new ApiError('AUTH_REQUIRED', 'Authenticate first: the first message must be {"type":"auth","token":…}'));
    }
    switch (valid.type) {
      case 'auth':
        return this.#send({ type: 'error', code: 'VAL_ERROR', message: 'The socket is authenticated already' });
      case 'subscribe':
        return this.#subscribe(this.#caller, valid);
      case 'unsubscribe':
        return this.#unsubscribe(valid.channels);
      case 'ping':
        return this.#send({ type: 'pong' });
    }
  }

  /** A message refused: before authentication the socket closes; after, it is told and stays open. */
  #problem(error: ApiError): void {
    if (!this.#caller) return this.#refuse(error);
    this.#send({ type: 'error', code: error.code, message: error.message });
  }

  async #authenticate(token: string): Promise<void> {
    clearTimeout(this.#authTimer);
    const { events, authenticate, permission, log } = this.#options;
    const credentials = presentedCredentials(token);
    let caller: Caller | null;
    try {
      caller = await authenticate(credentials);
    } catch (err) {
      if (err instanceof ApiError) return this.#refuse(err);
      throw err;
    }
    if (!caller) return this.#refuse(new ApiError('AUTH_REQUIRED', 'Authentication is required'));
    if (!caller.permissions.has(permission)) return this.#refuse(new ApiError('PERM_DENIED', `The live WebSocket requires the permission ${permission}`));
    if (this.#gone.signal.aborted) return;
    try {
      this.#release = events.holdSlot(caller);
    } catch (err) {
      if (err instanceof ApiError) return this.#refuse(err);
      throw err;
    }
    this.#caller = caller;
    const teamIds = caller.teamIds;
    const reauthenticate = () => authenticate(credentials);
    this.#unwatch = watchCredential(
      { expiresAt: caller.expiresAt, stillAllowed: () => events.stillAllowed(reauthenticate, log, this.#channels(), teamIds) },
      events.policy,
      // A check made just after the expiry refuses the credential too: that is still its expiry.
      (reason) =>
        this.#refuse(
          reason === 'credential expired' || (caller.expiresAt !== null && caller.expiresAt.getTime() <= Date.now())
            ? new ApiError('AUTH_EXPIRED_TOKEN', 'The credential expired: connect again with a fresh one and resume with last_event_id')
            : new ApiError('AUTH_INVALID_TOKEN', 'The credential no longer holds (revoked, its user deactivated, or a permission or team it needed lost)'),
        ),
    );
    this.#send({ type: 'authenticated', channels: events.readableChannels(caller), expires_at: caller.expiresAt?.toISOString() ?? null });
  }

  async #subscribe(caller: Caller, message: Subscribe): Promise<void> {
    const { events, log } = this.#options;
    const current = this.#channels();
    const added = new Set<EventChannel>();
    for (const channel of message.channels) {
      const refusal = events.channelRefusal(caller, channel);
      if (refusal) this.#send({ type: 'error', code: refusal.code, message: refusal.message, channel });
      else if (!current.has(channel)) added.add(channel);
    }
    if (added.size > 0) {
      const after = message.last_event_id === undefined ? undefined : BigInt(message.last_event_id);
      let subscription;
      try {
        subscription = await events.subscribe({ channels: added, teamIds: events.teamsFor(caller, message.team_id), after, log });
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'websocket: a replay could not be read');
        return this.#send({ type: 'error', code: 'EXT_SERVICE_UNAVAILABLE', message: 'The events to resume with could not be read; subscribe again' });
      }
      if (this.#gone.signal.aborted) return subscription.connection.close();
      const running: Running = { channels: added, ended: new AbortController() };
      this.#subscriptions.add(running);
      // Said before the replay is written, so a client knows what it receives before it receives it.
      this.#send({ type: 'subscribed', channels: [...this.#channels()] });
      void subscription.connection.run(this.#sink(running), subscription.replay).then((reason) => {
        this.#subscriptions.delete(running);
        if (reason) this.#fellBehind(reason);
      });
      return;
    }
    this.#send({ type: 'subscribed', channels: [...this.#channels()] });
  }

  #unsubscribe(channels: readonly EventChannel[]): void {
    for (const running of this.#subscriptions) {
      for (const channel of channels) running.channels.delete(channel);
      if (running.channels.size === 0) {
        running.ended.abort();
        this.#subscriptions.delete(running);
      }
    }
    this.#send({ type: 'unsubscribed', channels: [...this.#channels()] });
  }

  /** A subscription ended on its side (the client fell behind, the bus may have missed events): the client resumes. */
  #fellBehind(reason: EndReason): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(CLOSE_TRY_AGAIN_LATER, reason);
  }

  /** The sink a subscription writes its events to: `event` messages, of the channels it still has. */
  #sink(running: Running): EventStreamSink {
    const socket = this.#socket;
    let written: Promise<void> = Promise.resolve();
    return {
      send: (message) => {
        // `retry:` is for EventSource; a WebSocket client decides when to reconnect.
        if (message.id === undefined || message.event === undefined || message.data === undefined) return true;
        const channel = channelOf.get(message.event as EventType);
        if (!channel || !running.channels.has(channel)) return true;
        if (socket.readyState !== WebSocket.OPEN) return false;
        // `data` is the event's JSON already: it goes into the message as it is, not parsed and written again.
        const text = `{"type":"event","id":${JSON.stringify(message.id)},"channel":${JSON.stringify(channel)},"event":${JSON.stringify(message.event)},"data":${message.data}}`;
        written = new Promise((resolve) => socket.send(text, () => resolve()));
        return true;
      },
      // The socket pings; a subscription has nothing to add.
      comment: () => true,
      get buffered() {
        return socket.bufferedAmount;
      },
      drained: () => written,
      signal: AbortSignal.any([running.ended.signal, this.#gone.signal]),
    };
  }

  #send(message: ServerMessage): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
  }

  /** Sends the error and closes with its code; the close reason is the error code. */
  #refuse(error: ApiError): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#send({ type: 'error', code: error.code, message: error.message });
    this.#socket.close(closeCodeOf(error), error.code);
  }

  #fail(err: unknown): void {
    this.#options.log.error({ err }, 'websocket: a message could not be handled');
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#send({ type: 'error', code: 'SYS_INTERNAL_ERROR', message: 'An unexpected error occurred' });
    this.#socket.close(CLOSE_INTERNAL_ERROR, 'SYS_INTERNAL_ERROR');
  }

  #closed(): void {
    this.#gone.abort();
    clearTimeout(this.#authTimer);
    clearInterval(this.#pings);
    this.#unwatch?.();
    this.#release?.();
    this.#subscriptions.clear();
  }
}
