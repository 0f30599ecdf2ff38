import type { components } from '../../../generated/openapi.d.ts';
import type { SettingKey } from './settings.catalogue.ts';
import type { SettingRow } from './settings.repository.ts';

type Schemas = components['schemas'];
export type Setting = Schemas['Setting'];

/** Where a value is stored: the scope, its team and group, and the `scope_id` of its rows. */
export interface SettingScope {
  scope: Schemas['SettingScope'];
  scopeId: string;
  teamId: string | null;
  groupId: string | null;
}

/** A declared key at a scope: its stored value there, else its default (`is_set: false`, version 0). */
export function toSetting(declared: SettingKey, at: SettingScope, row: SettingRow | undefined): Setting {
  return {
    key: declared.key,
    scope: at.scope,
    team_id: at.teamId,
    group_id: at.groupId,
    value: row ? row.value : declared.default,
    is_set: row !== undefined,
    default: declared.default,
    description: declared.description,
    value_schema: declared.schema,
    version: row ? row.version : 0,
    updated_at: row ? row.updated_at.toISOString() : null,
  };
}
