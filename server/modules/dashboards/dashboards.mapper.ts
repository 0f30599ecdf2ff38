import type { components } from '../../../generated/openapi.d.ts';
import type { DashboardRow } from './dashboards.repository.ts';

export type Dashboard = components['schemas']['Dashboard'];

/** A row as the API shows it: snake_case fields, RFC 3339 UTC times; panels as they were saved. */
export function toDashboard(row: DashboardRow): Dashboard {
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    description: row.description,
    panels: row.panels,
    version: row.version,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
