// Thin Kysely queries for the settings' stored values (one row per scope and key) and the one query of an
// agent's effective configuration.
import { sql } from 'kysely';
import type { components } from '../../../generated/openapi.d.ts';
import type { Executor } from '../../db/executor.ts';
import type { PolicyColumns } from '../policies/policies.mapper.ts';

type Schemas = components['schemas'];

/** The `scope_id` of the global scope. */
export const GLOBAL_SCOPE_ID = '00000000-0000-0000-0000-000000000000';

const columns = ['scope_id', 'key', 'scope', 'team_id', 'group_id', 'value', 'version', 'created_at', 'updated_at'] as const;

export const listSettingsAt = (db: Executor, scopeId: string) => db.selectFrom('config_settings').select(columns).where('scope_id', '=', scopeId).execute();

export type SettingRow = Awaited<ReturnType<typeof listSettingsAt>>[number];

export const findSetting = (db: Executor, scopeId: string, key: string): Promise<SettingRow | undefined> =>
  db.selectFrom('config_settings').select(columns).where('scope_id', '=', scopeId).where('key', '=', key).executeTakeFirst();

export interface SettingWrite {
  scope_id: string;
  key: string;
  scope: Schemas['SettingScope'];
  team_id: string | null;
  group_id: string | null;
  value: Schemas['SettingValue'];
}

/**
 * Creates or replaces the value (the next version); `expectedUpdatedAt`: only the version read (an If-Match that
 * held). Answers the row and whether it was created, or undefined when the version read moved on.
 */
export async function upsertSetting(db: Executor, write: SettingWrite, expectedUpdatedAt: string | null): Promise<{ row: SettingRow; created: boolean } | undefined> {
  const query = db
    .insertInto('config_settings')
    .values({ ...write, value: JSON.stringify(write.value) })
    .onConflict((oc) => {
      const update = oc.columns(['scope_id', 'key']).doUpdateSet({ value: (eb) => eb.ref('excluded.value'), version: sql`config_settings.version + 1`, updated_at: sql`now()` });
      return expectedUpdatedAt ? update.where('config_settings.updated_at', '=', new Date(expectedUpdatedAt)) : update;
    });
  const row = await query.returning([...columns, sql<boolean>`xmax = 0`.as('created')]).executeTakeFirst();
  if (!row) return undefined;
  const { created, ...setting } = row;
  return { row: setting, created };
}

/** Removes the value; `expectedUpdatedAt`: only the version read. Answers whether a row went. */
export async function deleteSetting(db: Executor, scopeId: string, key: string, expectedUpdatedAt: string | null): Promise<boolean> {
  let query = db.deleteFrom('config_settings').where('scope_id', '=', scopeId).where('key', '=', key);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numDeletedRows > 0n;
}

/** A stored value that applies to an agent, as the effective query answers it (JSON: times as text). */
export interface AppliedSetting {
  key: string;
  value: Schemas['SettingValue'];
  scope: Schemas['SettingScope'];
  team_id: string | null;
  group_id: string | null;
  updated_at: string;
}

/** A policy that applies to an agent, as the effective query answers it (JSON: times as text). */
export type AppliedPolicy = PolicyColumns & { created_at: string; updated_at: string };

export interface AppliedConfiguration {
  group_ids: string[];
  settings: AppliedSetting[];
  policies: AppliedPolicy[];
}

/**
 * Everything that applies to one agent of `teamId`, in one statement: its groups, the stored values of every scope
 * that applies (global, its team, its groups: primary-key lookups) and its team's policies on the team or its groups.
 */
export async function appliedConfiguration(db: Executor, agentId: string, teamId: string): Promise<AppliedConfiguration> {
  const { rows } = await sql<AppliedConfiguration>`
    with groups as (select group_id from agent_group_members where agent_id = ${agentId})
    select
      array(select group_id from groups order by group_id) as group_ids,
      (select coalesce(json_agg(json_build_object('key', s.key, 'value', s.value, 'scope', s.scope, 'team_id', s.team_id,
                                                  'group_id', s.group_id, 'updated_at', s.updated_at)), '[]'::json)
         from config_settings s
        where s.scope_id = any(array[${GLOBAL_SCOPE_ID}::uuid, ${teamId}::uuid] || array(select group_id from groups))) as settings,
      (select coalesce(json_agg(p order by lower(p.name), p.id), '[]'::json)
         from (select id, team_id, group_id, name, description, kind, rules, version, created_at, updated_at
                 from config_policies
                where team_id = ${teamId} and (group_id is null or group_id in (select group_id from groups))) p) as policies`.execute(db);
  return rows[0]!;
}

/** The versions the agent last reported of these packages (several when it has several architectures). */
export const reportedVersions = (db: Executor, agentId: string, names: readonly string[]) =>
  names.length === 0
    ? Promise.resolve([])
    : db.selectFrom('agent_packages').select(['name', 'version']).where('agent_id', '=', agentId).where('name', 'in', [...names]).execute();
