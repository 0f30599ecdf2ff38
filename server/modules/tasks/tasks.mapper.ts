import type { components } from '../../../generated/openapi.d.ts';
import type { TaskLogRow, TaskRow } from '../../db/schema.ts';

type Schemas = components['schemas'];

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** A fleet task's target, limits and children counted by state; null for an agent's task. */
function toFleetProgress(row: TaskRow): Schemas['FleetProgress'] | null {
  if (row.fleet === null) return null;
  return {
    ...row.fleet,
    total: row.fleet_total,
    counts: {
      pending: row.fleet_pending,
      running: row.fleet_running,
      succeeded: row.fleet_succeeded,
      failed: row.fleet_failed,
      cancelled: row.fleet_cancelled,
      skipped_offline: row.fleet_skipped_offline,
    },
    stopped_reason: row.stopped_reason,
  };
}

export function toTask(row: TaskRow): Schemas['Task'] {
  return {
    id: row.id,
    team_id: row.team_id,
    agent_id: row.agent_id,
    kind: row.kind,
    parent_id: row.parent_id,
    template_id: row.template_id,
    template_version: row.template_version,
    fleet: toFleetProgress(row),
    type: row.type,
    status: row.status,
    progress: row.progress,
    eta: iso(row.eta),
    parameters: row.parameters,
    result: row.result,
    error: row.error,
    attempt: row.attempt,
    retry_of: row.retry_of,
    queued_offline: row.queued_offline,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
  };
}

export const toTaskLogLine = (row: TaskLogRow): Schemas['TaskLogLine'] => ({ id: row.id, seq: row.seq, at: row.at.toISOString(), line: row.line });

export const accepted = (row: TaskRow): Schemas['TaskAccepted'] => ({ task_id: row.id, status: row.status, status_url: `/api/v1/tasks/${row.id}` });
