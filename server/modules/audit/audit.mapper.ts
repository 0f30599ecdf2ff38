import type { components } from '../../../generated/openapi.d.ts';
import type { AuditEventRow } from '../../db/schema.ts';

export type AuditEvent = components['schemas']['AuditEvent'];

export function toAuditEvent(row: AuditEventRow): AuditEvent {
  return {
    id: row.id,
    at: row.at.toISOString(),
    actor: { user_id: row.actor_user_id, api_key_id: row.actor_api_key_id, email: row.actor_email },
    operation_id: row.operation_id,
    method: row.method as AuditEvent['method'],
    path: row.path,
    target_id: row.target_id,
    team_id: row.team_id,
    request_id: row.request_id,
    outcome: row.outcome,
    status: row.status,
    error_code: row.error_code,
  };
}
