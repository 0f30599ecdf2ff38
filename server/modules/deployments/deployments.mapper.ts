import type { components } from '../../../generated/openapi.d.ts';
import type { DeploymentRow } from '../../db/schema.ts';

type Schemas = components['schemas'];
export type Deployment = Schemas['Deployment'];

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export function toDeployment(row: DeploymentRow): Deployment {
  return {
    id: row.id,
    team_id: row.team_id,
    service: row.service,
    version: row.version,
    environment: row.environment,
    status: row.status,
    previous_version: row.previous_version,
    rollback_of: row.rollback_of,
    reason: row.reason,
    requested_by: row.requested_by,
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    duration_seconds: row.duration_seconds,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

const deploymentUrl = (id: string) => `/api/v1/deployments/${id}`;

export const rollbackAccepted = (rollback: DeploymentRow, of: string, requestedBy: string): Schemas['RollbackAccepted'] => ({
  rollback_id: rollback.id,
  deployment_id: of,
  status: rollback.status,
  status_url: deploymentUrl(rollback.id),
  reason: rollback.reason,
  requested_by: requestedBy,
});
