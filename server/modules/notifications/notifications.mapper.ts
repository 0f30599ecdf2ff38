import type { components } from '../../../generated/openapi.d.ts';
import type { AlertSilenceRow, NotificationChannelRow } from '../../db/schema.ts';

export type NotificationChannel = components['schemas']['NotificationChannel'];
export type AlertSilence = components['schemas']['AlertSilence'];

/** A channel as callers see it: never its Slack URL, only the hint. */
export function toNotificationChannel(row: NotificationChannelRow): NotificationChannel {
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    kind: row.kind,
    webhook_id: row.webhook_id,
    email_to: row.email_to,
    slack_url_hint: row.slack_url_hint,
    min_severity: row.min_severity,
    label_matchers: row.label_matchers,
    enabled: row.enabled,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toAlertSilence(row: AlertSilenceRow): AlertSilence {
  return {
    id: row.id,
    team_id: row.team_id,
    starts_at: row.starts_at.toISOString(),
    ends_at: row.ends_at.toISOString(),
    matchers: row.matchers,
    comment: row.comment,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
