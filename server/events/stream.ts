// One connection of the live stream (`streamEvents`), or one subscription of a live WebSocket
// (`openEventSocket`, whose socket keeps it alive and watches the credential). It listens to the event bus
// from the moment it is made, before its replay is read, and holds what arrives meanwhile; then it writes
// `retry:`, the replay, what arrived meanwhile and then live events as they come — each event once, in stream
// order (an event at or below the last position written is skipped) — and a keep-alive comment every
// `keepalive_seconds`.
// It ends when the client goes away or the server stops, when the caller's credential expires or no longer
// holds (checked again every `reauthenticate_seconds`), when the client falls too far behind, or when the
// bus may have missed events. In each case the client resumes
// with Last-Event-ID and loses nothing within the replay window.
import { ApiError } from '../http/errors.ts';
import type { EventStreamSink } from '../http/event-stream.ts';
import type { Logger } from '../logger.ts';
import { policyWithOverrides } from '../contract.ts';
import type { EventChannel } from './catalogue.ts';
import type { EventBus, PublishedEvent } from './event-bus.ts';

/** The spec's `x-event-stream`. */
export interface EventStreamPolicy {
  readonly keepalive_seconds: number;
  readonly retry_ms: number;
  readonly replay_hours: number;
  readonly replay_max_events: number;
  readonly reauthenticate_seconds: number;
  /** Open streams one caller may hold on this process (Server-Sent Events streams and WebSockets together). */
  readonly max_streams_per_caller: number;
  /** How soon after its upgrade a WebSocket must authenticate. */
  readonly auth_timeout_seconds: number;
  /** The largest message a WebSocket client may send. */
  readonly max_message_bytes: number;
}

/** The spec's policy, with the configuration's overrides (`EVENT_STREAM`); a bad value fails start-up. */
export const eventStreamPolicy = (overrides: Readonly<Record<string, number>> = {}): EventStreamPolicy =>
  policyWithOverrides<EventStreamPolicy>('x-event-stream', 'EVENT_STREAM', overrides, {
    amounts: ['keepalive_seconds', 'replay_hours', 'reauthenticate_seconds', 'auth_timeout_seconds'],
    counts: ['retry_ms', 'replay_max_events', 'max_streams_per_caller', 'max_message_bytes'],
  });

/**
 * The streams each caller holds open on this process, at most `limit` each, so that one caller cannot tie up
 * a process's sockets and listeners. Per process: the resource it protects is the process's own.
 */
export class StreamSlots {
  readonly #held = new Map<string, number>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Takes a slot for `holder`, or refuses with 429 RATE_TOO_MANY_STREAMS; answers the function that frees it (once). */
  acquire(holder: string): () => void {
    const held = this.#held.get(holder) ?? 0;
    if (held >= this.#limit) {
      throw new ApiError('RATE_TOO_MANY_STREAMS', `This caller already holds ${held} open event streams on this server, the most it may; close one first`, {
        headers: { 'Retry-After': '5' },
      });
    }
    this.#held.set(holder, held + 1);
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const left = (this.#held.get(holder) ?? 1) - 1;
      if (left > 0) this.#held.set(holder, left);
      else this.#held.delete(holder);
    };
  }
}

/** What one connection receives: events of these teams on these channels. */
export interface StreamScope {
  readonly teamIds: ReadonlySet<string>;
  readonly channels: ReadonlySet<EventChannel>;
}

/** What ends a connection on the caller's side: its credential's expiry, and a check of it made again now and then. */
export interface CredentialWatch {
  /** When the caller's credential expires; the connection ends then. */
  expiresAt: Date | null;
  /** Whether the caller may still receive the connection (its credential, permissions and teams, as they are now). */
  stillAllowed: () => Promise<boolean>;
}

export interface ConnectionOptions {
  /**
   * The scope's `channels` may be a set the owner changes later (a WebSocket's `unsubscribe`): each event is
   * matched against it as it arrives.
   */
  scope: StreamScope;
  /** The position the client resumes after (Last-Event-ID); events at or below it are never written. */
  after: bigint | undefined;
  /**
   * For a connection that is the whole answer (a Server-Sent Events stream): it keeps itself alive and watches
   * the credential. The subscriptions of a WebSocket leave both to their socket, which does it once for all.
   */
  watch?: CredentialWatch | undefined;
  policy: EventStreamPolicy;
  log: Logger;
}

/** How far (bytes not yet taken by the OS) a client may fall behind live events before its stream ends. */
export const MAX_BUFFERED_BYTES = 1 << 20;
/** Past this many buffered bytes, the replay waits for the client before it writes more. */
const REPLAY_HIGH_WATER = 64 * 1024;
/** Live events held while the replay is read and written; more ends the stream (the client resumes). */
export const MAX_BACKLOG = 10_000;
/** setTimeout's longest delay (about 24.8 days); a later expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export type EndReason = 'credential expired' | 'credential revoked' | 'client too slow' | 'backlog overflow' | 'bus interrupted';

/**
 * Calls `end` when the credential expires, or when it no longer holds (checked every `reauthenticate_seconds`);
 * answers the function that stops watching.
 */
export function watchCredential(watch: CredentialWatch, policy: EventStreamPolicy, end: (reason: 'credential expired' | 'credential revoked') => void): () => void {
  const recheck = setInterval(() => {
    watch.stillAllowed().then((allowed) => allowed || end('credential revoked'));
  }, policy.reauthenticate_seconds * 1000);
  let expiry: NodeJS.Timeout | undefined;
  const watchExpiry = () => {
    const left = watch.expiresAt!.getTime() - Date.now();
    if (left <= 0) return end('credential expired');
    expiry = setTimeout(watchExpiry, Math.min(left, MAX_TIMER_MS));
  };
  if (watch.expiresAt) watchExpiry();
  return () => {
    clearInterval(recheck);
    clearTimeout(expiry);
  };
}

export class StreamConnection {
  readonly #options: ConnectionOptions;
  readonly #ended = new AbortController();
  readonly #unsubscribe: () => void;
  readonly #unwatch: () => void;
  /** Live events that arrived before the connection could write them; `null` once it writes them at once. */
  #backlog: PublishedEvent[] | null = [];
  #sink: EventStreamSink | undefined;
  #last: bigint;
  #sent = 0;

  /** Starts listening at once: call it before reading the replay. */
  constructor(bus: EventBus, options: ConnectionOptions) {
    this.#options = options;
    this.#last = options.after ?? -1n;
    const { teamIds, channels } = options.scope;
    this.#unsubscribe = bus.subscribe((published) => {
      if (!channels.has(published.channel) || !teamIds.has(published.event.team_id)) return;
      if (this.#backlog === null) return this.#write(published);
      this.#backlog.push(published);
      if (this.#backlog.length > MAX_BACKLOG) this.#end('backlog overflow');
    });
    this.#unwatch = bus.onInterrupted(() => this.#end('bus interrupted'));
  }

  /** Stops listening; for a connection whose stream never runs (its replay failed). */
  close(): void {
    this.#unsubscribe();
    this.#unwatch();
    this.#backlog = null;
  }

  /**
   * Writes the stream until it ends; `replay` are the events after Last-Event-ID, in stream order. Answers why
   * the connection ended it, or undefined when the sink's signal did (the client went away, the server stops).
   */
  async run(sink: EventStreamSink, replay: readonly PublishedEvent[]): Promise<EndReason | undefined> {
    const stop = AbortSignal.any([sink.signal, this.#ended.signal]);
    const { policy, watch } = this.#options;
    const keepAlive = watch ? setInterval(() => sink.comment('keep-alive'), policy.keepalive_seconds * 1000) : undefined;
    const unwatch = watch ? watchCredential(watch, policy, (reason) => this.#end(reason)) : undefined;
    try {
      this.#sink = sink;
      sink.send({ retry: policy.retry_ms });
      if (stop.aborted) return;
      for (const published of replay) {
        this.#write(published);
        if (sink.buffered > REPLAY_HIGH_WATER) await sink.drained();
        if (stop.aborted) return;
      }
      // What arrived during the replay; more may arrive while this waits for the client, hence the loop.
      while (this.#backlog !== null && this.#backlog.length > 0) {
        const batch = this.#backlog;
        this.#backlog = [];
        for (const published of batch) this.#write(published);
        if (sink.buffered > REPLAY_HIGH_WATER) await sink.drained();
        if (stop.aborted) return;
      }
      this.#backlog = null;
      if (!stop.aborted) await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
    } finally {
      clearInterval(keepAlive);
      unwatch?.();
      this.close();
      const reason = this.#ended.signal.reason as EndReason | undefined;
      const level = reason === 'client too slow' || reason === 'backlog overflow' ? 'warn' : 'debug';
      this.#options.log[level]({ reason: reason ?? (sink.signal.reason as Error | undefined)?.message, events: this.#sent, last_event_id: this.#last >= 0n ? String(this.#last) : null }, 'event stream ended');
    }
    return this.#ended.signal.reason as EndReason | undefined;
  }

  #write(published: PublishedEvent): void {
    const sink = this.#sink;
    if (!sink || this.#ended.signal.aborted) return;
    const seq = BigInt(published.seq);
    if (seq <= this.#last) return; // replayed already, or published twice
    this.#last = seq;
    sink.send({ id: published.seq, event: published.event.event, data: JSON.stringify(published.event) });
    this.#sent += 1;
    if (sink.buffered > MAX_BUFFERED_BYTES) this.#end('client too slow');
  }

  #end(reason: EndReason): void {
    if (!this.#ended.signal.aborted) this.#ended.abort(reason);
  }
}
