import type { components } from '../../../generated/openapi.d.ts';

type Schemas = components['schemas'];
export type Policy = Schemas['Policy'];

/** A policy's columns, from a row (times as dates) or from JSON (times as text). */
export interface PolicyColumns {
  id: string;
  team_id: string;
  group_id: string | null;
  name: string;
  description: string | null;
  kind: Schemas['PolicyKind'];
  rules: Schemas['PolicyRules'];
  version: number;
  created_at: Date | string;
  updated_at: Date | string;
}

const iso = (time: Date | string) => new Date(time).toISOString();

/** A row as the API shows it: snake_case fields, RFC 3339 UTC times. */
export function toPolicy(row: PolicyColumns): Policy {
  return {
    id: row.id,
    team_id: row.team_id,
    group_id: row.group_id,
    name: row.name,
    description: row.description,
    kind: row.kind,
    rules: row.rules,
    version: row.version,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}
