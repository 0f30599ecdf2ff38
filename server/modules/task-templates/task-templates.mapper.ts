import type { components } from '../../../generated/openapi.d.ts';
import type { TaskTemplateRow, TaskTemplateVersionRow } from './task-templates.repository.ts';

type Schemas = components['schemas'];
export type TaskTemplate = Schemas['TaskTemplate'];
export type TaskTemplateVersion = Schemas['TaskTemplateVersion'];

/** A row as the API shows it: snake_case fields, RFC 3339 UTC times. */
export function toTaskTemplate(row: TaskTemplateRow): TaskTemplate {
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    description: row.description,
    action: row.action,
    defaults: row.defaults,
    parameters_schema: row.parameters_schema as TaskTemplate['parameters_schema'],
    version: row.version,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toTaskTemplateVersion(row: TaskTemplateVersionRow): TaskTemplateVersion {
  return {
    template_id: row.template_id,
    version: row.version,
    name: row.name,
    description: row.description,
    action: row.action,
    defaults: row.defaults,
    parameters_schema: row.parameters_schema as TaskTemplateVersion['parameters_schema'],
    created_at: row.created_at.toISOString(),
  };
}
