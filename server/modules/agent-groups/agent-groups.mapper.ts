import type { components } from '../../../generated/openapi.d.ts';
import type { AgentGroupWithCount } from './agent-groups.repository.ts';

export type AgentGroup = components['schemas']['AgentGroup'];

/** A row as the API shows it: snake_case fields, RFC 3339 UTC times. */
export function toAgentGroup(row: AgentGroupWithCount): AgentGroup {
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    description: row.description,
    agent_count: row.agent_count,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
