import type { components } from '../../../generated/openapi.d.ts';
import type { WebhookDeliveryAttemptRow, WebhookDeliveryRow, WebhookRow } from '../../db/schema.ts';

type Schemas = components['schemas'];

/** A webhook as reads see it: never its secret, not even encrypted. */
export type PublicWebhookRow = Omit<WebhookRow, 'secret_ciphertext'>;

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export function toWebhook(row: PublicWebhookRow): Schemas['Webhook'] {
  return {
    id: row.id,
    team_id: row.team_id,
    url: row.url,
    events: row.events as Schemas['EventType'][],
    description: row.description,
    active: row.active,
    disabled_reason: row.disabled_reason,
    disabled_at: iso(row.disabled_at),
    secret_hint: row.secret_hint,
    consecutive_failures: row.consecutive_failures,
    last_delivery_at: iso(row.last_delivery_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toWebhookDelivery(row: WebhookDeliveryRow): Schemas['WebhookDelivery'] {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    event_id: row.event_id,
    event: row.event,
    status: row.status,
    attempt_count: row.attempt_count,
    // Only a pending delivery has a next attempt; the column also holds the lease of one being attempted.
    next_attempt_at: row.status === 'pending' ? iso(row.next_attempt_at) : null,
    last_status_code: row.last_status_code,
    redelivery_of: row.redelivery_of,
    created_at: row.created_at.toISOString(),
    completed_at: iso(row.completed_at),
  };
}

export function toWebhookDeliveryAttempt(row: WebhookDeliveryAttemptRow): Schemas['WebhookDeliveryAttempt'] {
  return {
    number: row.number,
    attempted_at: row.attempted_at.toISOString(),
    status_code: row.status_code,
    latency_ms: row.latency_ms,
    response_excerpt: row.response_excerpt,
    error: row.error,
    succeeded: row.succeeded,
  };
}

/** `…` and the last four characters: enough to tell secrets apart, too little to guess one. */
export const secretHint = (secret: string): string => `…${secret.slice(-4)}`;
