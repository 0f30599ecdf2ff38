import type { Authenticator } from '../../auth/authenticate.ts';
import { requireCaller } from '../../auth/caller.ts';
import { operationEntry } from '../../http/operation-table.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { EventSocket, type EventSocketOptions } from './events.socket.ts';
import type { EventStreamService } from './events.service.ts';

type EventHandlers = Pick<HandlerMap, 'streamEvents' | 'openEventSocket'>;

export function eventHandlers(events: EventStreamService, authenticator: Authenticator): EventHandlers {
  // The socket's credential needs what the stream's does.
  const permission = operationEntry('streamEvents').permission!;
  return {
    async streamEvents({ query, headers, ctx }) {
      // The header wins over the query parameter (for clients that cannot set headers).
      const lastEventId = headers['Last-Event-ID'] ?? query.last_event_id;
      const stream = await events.open(requireCaller(ctx), { channels: query.channels, teamId: query.team_id, lastEventId }, ctx);
      return { status: 200, stream };
    },
    async openEventSocket({ ctx }) {
      const options: EventSocketOptions = { events, authenticate: (credentials) => authenticator.authenticate(credentials), permission, log: ctx.log };
      return { status: 101, socket: { maxMessageBytes: events.policy.max_message_bytes, accept: (socket) => void new EventSocket(socket, options) } };
    },
  };
}
