import type { components } from '../../../generated/openapi.d.ts';
import type { AlertRuleRow } from '../../db/schema.ts';

export type AlertRule = components['schemas']['AlertRule'];

export function toAlertRule(row: AlertRuleRow): AlertRule {
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    metric: row.metric,
    scope: row.scope,
    condition: { aggregation: row.aggregation, window_seconds: row.window_seconds, operator: row.operator, threshold: row.threshold },
    for_seconds: row.for_seconds,
    no_data_seconds: row.no_data_seconds,
    severity: row.severity,
    labels: row.labels,
    description_template: row.description_template,
    enabled: row.enabled,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
