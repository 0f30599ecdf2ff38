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
import { StreamConnection, StreamSlots, type EventStreamPolicy } from '../../events/stream.ts';
import { ApiError } from '../../http/errors.ts';
import type { EventStream } from '../../http/event-stream.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { replayEvents, type ReplayRow } from './events.repository.ts';

export interface StreamRequest {
  channels?: readonly EventChannel[] | undefined;
  teamId?: string | undefined;
  /** Last-Event-ID (the header, else the query parameter): a stream position. */
  lastEventId?: string | undefined;
}

const ALL_CHANNELS = [...channelPermission.keys()];

const asPublished = (row: ReplayRow): PublishedEvent => ({ seq: row.seq, channel: row.channel as EventChannel, event: toEventPayload(row) as StreamEvent });

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

  /** The channels the caller receives; 403 PERM_DENIED for one asked for without its read permission. */
  channelsFor(caller: Caller, asked: readonly EventChannel[] | undefined): EventChannel[] {
    if (asked === undefined) {
      const readable = ALL_CHANNELS.filter((channel) => caller.permissions.has(channelPermission.get(channel)!));
      if (readable.length === 0) {
        const permissions = ALL_CHANNELS.map((channel) => channelPermission.get(channel)!);
        throw new ApiError('PERM_DENIED', `Receiving events requires the read permission of a channel: one of ${permissions.join(', ')}`);
      }
      return readable;
    }
    for (const channel of asked) {
      const permission = channelPermission.get(channel)!;
      if (!caller.permissions.has(permission)) throw new ApiError('PERM_DENIED', `The channel ${channel} requires the permission ${permission}`);
    }
    return [...new Set(asked)];
  }

  /**
   * The credential authenticated again, as a new request would be: false once it is refused (a revoked key, a
   * deactivated user, a changed password), or lacks a channel's permission or a team the stream carries. A
   * check that cannot be made (the database away) keeps the stream: it is retried at the next interval.
   */
  async #stillAllowed(ctx: RequestContext, channels: readonly EventChannel[], teamIds: readonly string[]): Promise<boolean> {
    try {
      const now = await ctx.reauthenticate?.();
      if (!now) return false;
      return channels.every((channel) => now.permissions.has(channelPermission.get(channel)!)) && teamIds.every((team) => now.teamIds.includes(team));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return false;
      ctx.log.warn({ err: (err as Error).message }, 'event stream: the credential could not be checked again; the stream goes on');
      return true;
    }
  }

  /** Decides the stream (or refuses it) and reads its replay; the stream it answers writes it all. */
  async open(caller: Caller, request: StreamRequest, ctx: RequestContext): Promise<EventStream> {
    const channels = this.channelsFor(caller, request.channels);
    const teamIds = request.teamId === undefined ? caller.teamIds : caller.teamIds.filter((team) => team === request.teamId);
    const after = request.lastEventId === undefined ? undefined : BigInt(request.lastEventId);
    const release = this.#slots.acquire(caller.apiKeyId ? `api_key:${caller.apiKeyId}` : `user:${caller.userId}`);
    // Listening starts before the replay is read, so an event dispatched meanwhile is in one or the other.
    const connection = new StreamConnection(this.#bus, {
      scope: { teamIds: new Set(teamIds), channels: new Set(channels) },
      after,
      expiresAt: caller.expiresAt,
      stillAllowed: () => this.#stillAllowed(ctx, channels, teamIds),
      policy: this.#policy,
      log: ctx.log,
    });
    let replay: PublishedEvent[] = [];
    try {
      if (after !== undefined) {
        const since = new Date(Date.now() - this.#policy.replay_hours * 3_600_000);
        const rows = await replayEvents(this.#db, { after, teamIds, channels, since, limit: this.#policy.replay_max_events });
        replay = rows.map(asPublished);
      }
    } catch (err) {
      connection.close();
      release();
      throw err;
    }
    return (sink) => connection.run(sink, replay).finally(release);
  }
}
