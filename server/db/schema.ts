// Table types as Kysely sees them. Keep in step with migrations/.
import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';
import type { components } from '../../generated/openapi.d.ts';

type Schemas = components['schemas'];

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface AgentsTable {
  id: string;
  hostname: string;
  ip_address: string;
  platform: Schemas['Platform'];
  os_version: string | null;
  agent_version: string | null;
  status: Schemas['AgentStatus'];
  tags: ColumnType<string[], string[] | undefined, string[]>;
  last_seen: Timestamp | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface Database {
  agents: AgentsTable;
}

export type AgentRow = Selectable<AgentsTable>;
export type NewAgentRow = Insertable<AgentsTable>;
export type AgentRowUpdate = Updateable<AgentsTable>;
