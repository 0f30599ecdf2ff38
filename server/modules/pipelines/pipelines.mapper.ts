import type { components } from '../../../generated/openapi.d.ts';
import type { PipelineRow, PipelineRunRow } from '../../db/schema.ts';

type Schemas = components['schemas'];
export type Pipeline = Schemas['Pipeline'];
export type PipelineRun = Schemas['PipelineRun'];

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export function toPipeline(row: PipelineRow): Pipeline {
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    repository: row.repository,
    branch: row.branch,
    status: row.status,
    last_run_status: row.last_run_status,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toPipelineRun(row: PipelineRunRow): PipelineRun {
  return {
    id: row.id,
    pipeline_id: row.pipeline_id,
    team_id: row.team_id,
    number: row.number,
    status: row.status,
    commit_sha: row.commit_sha,
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    duration_seconds: row.duration_seconds,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
  };
}
