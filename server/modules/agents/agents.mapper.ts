import type { components } from '../../../generated/openapi.d.ts';
import type { AgentRow } from '../../db/schema.ts';

export type Agent = components['schemas']['Agent'];

const iso = (value: Date | string): string => (value instanceof Date ? value : new Date(value)).toISOString();

/** A row as the API shows it: snake_case fields, RFC 3339 UTC times. */
export function toAgent(row: AgentRow): Agent {
  return {
    id: row.id,
    team_id: row.team_id,
    hostname: row.hostname,
    ip_address: row.ip_address,
    platform: row.platform,
    os_version: row.os_version,
    agent_version: row.agent_version,
    status: row.status,
    tags: row.tags,
    last_seen: row.last_seen === null ? null : iso(row.last_seen),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export type AgentV2 = components['schemas']['AgentV2'];
export type AgentGroupRef = components['schemas']['AgentGroupRef'];

/** A row as `listAgentsV2` shows it: the agent, the groups it belongs to and its health score. */
export function toAgentV2(row: AgentRow, groups: AgentGroupRef[], healthScore: number): AgentV2 {
  return { ...toAgent(row), groups, health_score: healthScore };
}
