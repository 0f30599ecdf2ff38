import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import type { EventStreamService } from './events.service.ts';

type EventHandlers = Pick<HandlerMap, 'streamEvents'>;

export function eventHandlers(events: EventStreamService): EventHandlers {
  return {
    async streamEvents({ query, headers, ctx }) {
      // The header wins over the query parameter (for clients that cannot set headers).
      const lastEventId = headers['Last-Event-ID'] ?? query.last_event_id;
      const stream = await events.open(requireCaller(ctx), { channels: query.channels, teamId: query.team_id, lastEventId }, ctx);
      return { status: 200, stream };
    },
  };
}
