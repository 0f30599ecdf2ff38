// The rules of the live stream (`streamEvents`): which events a caller receives — its teams' (or the one
// team it names, when it is one of them; another team's finds nothing, as a list's `team_id` filter does),
// on the channels it asks for, each of which needs its read permission (the default: every channel it may
// read). Everything that can refuse the request is decided before the stream starts, so a refusal is an
// ordinary error answer; that includes the replay after Last-Event-ID, so a database that does not answer
// is a 503 rather than a stream that dies at once.
import type { Kysely } from 'kysely';
import type { Caller } from '../../auth/caller.ts';
import type { Database } from '../../db/schema.ts';
import { channelPermission, type EventChannel, type StreamEvent } from '../../events/catalogue.ts';
import type { EventBus, PublishedEvent } from '../../events/event-bus.ts';
import { toEventPayload } from '../../events/event.mapper.ts';
import { StreamConnection, StreamSlots, type CredentialWatch, type EventStreamPolicy } from '../../events/stream.ts';
import { ApiError } from '../../http/errors.ts';
import type { EventStream } from '../../http/event-stream.ts';
import type { RequestContext } from '../../http/request-context.ts';
import type { Logger } from '../../logger.ts';
import { replayEvents, type ReplayRow } from './events.repository.ts';

export interface StreamRequest {
  channels?: readonly EventChannel[] | undefined;
  teamId?: string | undefined;
  /** Last-Event-ID (the header, else the query parameter): a stream position. */
  lastEventId?: string | undefined;
}

const ALL_CHANNELS = [...channelPermission.keys()];

const asPublished = (row: ReplayRow): PublishedEvent => ({ seq: row.seq, channel: row.channel as EventChannel, event: toEventPayload(row) as StreamEvent });

/** A subscription made: listening from before its replay was read, and the replay. */
export interface Subscription {
  connection: StreamConnection;
  replay: PublishedEvent[];
}

export class EventStreamService {
  readonly #db: Kysely<Database>;
  readonly #bus: EventBus;
  readonly #policy: EventStreamPolicy;
  readonly #slots: StreamSlots;

  constructor(db: Kysely<Database>, bus: EventBus, policy: EventStreamPolicy) {
    this.#db = db;
    this.#bus = bus;
    this.#policy = policy;
    this.#slots = new StreamSlots(policy.max_streams_per_caller);
  }

  get policy(): EventStreamPolicy {
    return this.#policy;
  }

  /** Every channel the caller may read. */
  readableChannels(caller: Caller): EventChannel[] {
    return ALL_CHANNELS.filter((channel) => caller.permissions.has(channelPermission.get(channel)!));
  }

  /** 403 PERM_DENIED for a channel the caller may not read; undefined when it may. */
  channelRefusal(caller: Caller, channel: EventChannel): ApiError | undefined {
    const permission = channelPermission.get(channel)!;
    return caller.permissions.has(permission) ? undefined : new ApiError('PERM_DENIED', `The channel ${channel} requires the permission ${permission}`);
  }

  /** The channels the caller receives; 403 PERM_DENIED for one asked for without its read permission. */
  channelsFor(caller: Caller, asked: readonly EventChannel[] | undefined): EventChannel[] {
    if (asked === undefined) {
      const readable = this.readableChannels(caller);
      if (readable.length === 0) {
        const permissions = ALL_CHANNELS.map((channel) => channelPermission.get(channel)!);
        throw new ApiError('PERM_DENIED', `Receiving events requires the read permission of a channel: one of ${permissions.join(', ')}`);
      }
      return readable;
    }
    for (const channel of asked) {
      const refusal = this.channelRefusal(caller, channel);
      if (refusal) throw refusal;
    }
    return [...new Set(asked)];
  }

  /** The teams a stream carries: the caller's, or the one it names when it is one of them (another finds nothing). */
  teamsFor(caller: Caller, teamId: string | undefined): string[] {
    return teamId === undefined ? [...caller.teamIds] : caller.teamIds.filter((team) => team === teamId);
  }

  /**
   * Takes one of the slots the caller holds on this process, Server-Sent Events streams and WebSockets
   * together (429 RATE_TOO_MANY_STREAMS when it holds them all); answers the function that frees it.
   */
  holdSlot(caller: Caller): () => void {
    return this.#slots.acquire(caller.apiKeyId ? `api_key:${caller.apiKeyId}` : `user:${caller.userId}`);
  }

  /**
   * The credential authenticated again, as a new request would be: false once it is refused (a revoked key, a
   * deactivated user, a changed password), or lacks a channel's permission or a team the stream carries. A
   * check that cannot be made (the database away) keeps the stream: it is retried at the next interval.
   */
  async stillAllowed(reauthenticate: () => Promise<Caller | null>, log: Logger, channels: Iterable<EventChannel>, teamIds: readonly string[]): Promise<boolean> {
    try {
      const now = await reauthenticate();
      if (!now) return false;
      return [...channels].every((channel) => now.permissions.has(channelPermission.get(channel)!)) && teamIds.every((team) => now.teamIds.includes(team));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return false;
      log.warn({ err: (err as Error).message }, 'event stream: the credential could not be checked again; the stream goes on');
      return true;
    }
  }

  /**
   * Starts listening for the events of `channels` of `teamIds` (the set may change later: a WebSocket's
   * `unsubscribe`), then reads the replay after `after`; listening starts first, so an event dispatched
   * meanwhile is in one or the other. A replay that cannot be read stops the listening and throws.
   */
  async subscribe(options: { channels: ReadonlySet<EventChannel>; teamIds: readonly string[]; after: bigint | undefined; watch?: CredentialWatch; log: Logger }): Promise<Subscription> {
    const { channels, teamIds, after } = options;
    const connection = new StreamConnection(this.#bus, { scope: { teamIds: new Set(teamIds), channels }, after, watch: options.watch, policy: this.#policy, log: options.log });
    try {
      if (after === undefined) return { connection, replay: [] };
      const since = new Date(Date.now() - this.#policy.replay_hours * 3_600_000);
      const rows = await replayEvents(this.#db, { after, teamIds, channels: [...channels], since, limit: this.#policy.replay_max_events });
      return { connection, replay: rows.map(asPublished) };
    } catch (err) {
      connection.close();
      throw err;
    }
  }

  /** Decides the stream (or refuses it) and reads its replay; the stream it answers writes it all. */
  async open(caller: Caller, request: StreamRequest, ctx: RequestContext): Promise<EventStream> {
    const channels = this.channelsFor(caller, request.channels);
    const teamIds = this.teamsFor(caller, request.teamId);
    const after = request.lastEventId === undefined ? undefined : BigInt(request.lastEventId);
    const release = this.holdSlot(caller);
    const reauthenticate = ctx.reauthenticate!;
    const watch: CredentialWatch = { expiresAt: caller.expiresAt, stillAllowed: () => this.stillAllowed(reauthenticate, ctx.log, channels, teamIds) };
    let subscription: Subscription;
    try {
      subscription = await this.subscribe({ channels: new Set(channels), teamIds, after, watch, log: ctx.log });
    } catch (err) {
      release();
      throw err;
    }
    return (sink) => subscription.connection.run(sink, subscription.replay).then(() => {}).finally(release);
  }
}
