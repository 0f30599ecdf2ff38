// An outbox row as consumers receive it, in the stream and in webhook deliveries alike.
import type { EventRow } from '../db/schema.ts';
import type { StreamEvent, WebhookPingEvent } from './catalogue.ts';

export const toEventPayload = (row: Pick<EventRow, 'id' | 'type' | 'team_id' | 'data' | 'occurred_at'>): StreamEvent | WebhookPingEvent =>
  ({ id: row.id, event: row.type, timestamp: row.occurred_at.toISOString(), team_id: row.team_id, data: row.data }) as StreamEvent | WebhookPingEvent;
