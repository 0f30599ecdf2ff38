import type { components } from '../../../generated/openapi.d.ts';
import type { AlertRow } from '../../db/schema.ts';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export function toAlert(row: AlertRow): components['schemas']['Alert'] {
  return {
    id: row.id,
    team_id: row.team_id,
    agent_id: row.agent_id,
    title: row.title,
    message: row.message,
    severity: row.severity,
    status: row.status,
    source: row.source,
    fingerprint: row.fingerprint,
    rule_id: row.rule_id,
    labels: row.labels,
    acknowledged_by: row.acknowledged_by,
    acknowledged_at: iso(row.acknowledged_at),
    resolved_by: row.resolved_by,
    resolved_at: iso(row.resolved_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
