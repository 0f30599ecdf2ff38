import type { components } from '../../../generated/openapi.d.ts';
import type { ArtifactRow } from './task-artifacts.repository.ts';

export const toTaskArtifact = (row: ArtifactRow): components['schemas']['TaskArtifact'] => ({
  id: row.id,
  task_id: row.task_id,
  team_id: row.team_id,
  agent_id: row.agent_id,
  name: row.name,
  content_type: row.content_type,
  size_bytes: Number(row.size_bytes),
  sha256: row.sha256,
  created_at: row.created_at.toISOString(),
});

export const artifactPath = (artifact: { task_id: string; id: string }): string => `/api/v1/tasks/${artifact.task_id}/artifacts/${artifact.id}`;
