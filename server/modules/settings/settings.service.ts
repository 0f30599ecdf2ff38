// Settings: the keys of `x-settings`, each stored per scope (global, team, agent group) and read back with its
// default when unset; `PUT` creates or replaces (201 / 200), `DELETE` unsets, both with If-Match. Team and group
// scopes are the caller's teams' (another team's is 404); writing the global scope needs `config:policies`.
// Also an agent's effective configuration: each key's value from the most specific scope that sets it (group >
// team > global > default; among its groups, the value written last, then the smallest group id), and the
// policies that apply to it, from one query.
import type { Kysely } from 'kysely';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { Database } from '../../db/schema.ts';
import { ApiError, invalidParameter, movedOn, notFound } from '../../http/errors.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { findGroup } from '../agent-groups/agent-groups.repository.ts';
import { findAgent } from '../agents/agents.repository.ts';
import { toPolicy } from '../policies/policies.mapper.ts';
import { compareDebVersions, parseDebVersion } from '../vulnerabilities/deb-version.ts';
import { checkedValue, SETTING_KEYS, settingKey } from './settings.catalogue.ts';
import { toSetting, type Setting, type SettingScope } from './settings.mapper.ts';
import * as repo from './settings.repository.ts';

type Schemas = components['schemas'];
export type SettingScopeQuery = NonNullable<operations['listSettings']['parameters']['query']>;
export type AgentConfig = Schemas['AgentConfig'];

const RANK = { group: 3, team: 2, global: 1 } as const;

/** Whether stored value `a` wins over `b` for one agent: the more specific scope, then the later write, then the smaller group id. */
function wins(a: repo.AppliedSetting, b: repo.AppliedSetting): boolean {
  if (RANK[a.scope] !== RANK[b.scope]) return RANK[a.scope] > RANK[b.scope];
  const at = Date.parse(a.updated_at) - Date.parse(b.updated_at);
  if (at !== 0) return at > 0;
  return (a.group_id ?? '') < (b.group_id ?? '');
}

/** The effective configuration of an agent from what applies to it. */
export function effectiveConfiguration(agentId: string, teamId: string, applied: repo.AppliedConfiguration): AgentConfig {
  const best = new Map<string, repo.AppliedSetting>();
  for (const stored of applied.settings) {
    const current = best.get(stored.key);
    if (!current || wins(stored, current)) best.set(stored.key, stored);
  }
  const settings: AgentConfig['settings'] = {};
  for (const declared of SETTING_KEYS) {
    const stored = best.get(declared.key);
    // A value stored under bounds that have since narrowed no longer counts: the next scope's (or the default) does.
    settings[declared.key] =
      stored && declared.check(stored.value) === null
        ? { value: stored.value, source: stored.scope, team_id: stored.team_id, group_id: stored.group_id }
        : { value: declared.default, source: 'default', team_id: null, group_id: null };
  }
  const policies = applied.policies.map(toPolicy);
  const limits = policies.flatMap((policy) => (policy.rules.kind === 'max_task_concurrency' ? [policy.rules.max] : []));
  return {
    agent_id: agentId,
    team_id: teamId,
    group_ids: applied.group_ids,
    settings,
    policies,
    max_task_concurrency: limits.length > 0 ? Math.min(...limits) : null,
  };
}

/** How an installed version stands against a minimum, in dpkg order (`unknown` when either does not parse). */
function standing(installed: string[], minimum: string): { installed_version: string | null; status: Schemas['PackageCompliance']['status'] } {
  if (installed.length === 0) return { installed_version: null, status: 'missing' };
  const min = parseDebVersion(minimum);
  const parsed = installed.map((text) => ({ text, version: parseDebVersion(text) }));
  if (!min || parsed.some((p) => p.version === null)) return { installed_version: installed.sort().at(-1)!, status: 'unknown' };
  const highest = parsed.reduce((a, b) => (compareDebVersions(a.version!, b.version!) >= 0 ? a : b));
  return { installed_version: highest.text, status: compareDebVersions(highest.version!, min) >= 0 ? 'ok' : 'outdated' };
}

export class SettingService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The scope the query names (400 for parameters it does not take, 404 outside the caller's teams, 403 for a global write without `config:policies`). */
  async #scope(caller: Caller, query: SettingScopeQuery, write: boolean): Promise<SettingScope> {
    const scope = query.scope ?? 'global';
    if (scope !== 'team' && query.team_id !== undefined) throw invalidParameter('team_id', `not taken with scope=${scope}`, query.team_id);
    if (scope !== 'group' && query.group_id !== undefined) throw invalidParameter('group_id', `not taken with scope=${scope}`, query.group_id);
    if (scope === 'global') {
      if (write && !caller.permissions.has('config:policies')) throw new ApiError('PERM_DENIED', 'Writing a global setting requires the permission config:policies');
      return { scope, scopeId: repo.GLOBAL_SCOPE_ID, teamId: null, groupId: null };
    }
    if (scope === 'team') {
      const teamId = query.team_id ?? (caller.teamIds.length === 1 ? caller.teamIds[0] : undefined);
      if (teamId === undefined) throw invalidParameter('team_id', `required with scope=team: the caller belongs to ${caller.teamIds.length} teams`);
      if (!caller.teamIds.includes(teamId)) throw notFound('Team', teamId);
      return { scope, scopeId: teamId, teamId, groupId: null };
    }
    if (query.group_id === undefined) throw invalidParameter('group_id', 'required with scope=group');
    const group = await findGroup(this.#db, query.group_id, caller.teamIds);
    if (!group) throw notFound('Agent group', query.group_id);
    return { scope, scopeId: group.id, teamId: group.team_id, groupId: group.id };
  }

  async list(caller: Caller, query: SettingScopeQuery): Promise<Setting[]> {
    const at = await this.#scope(caller, query, false);
    const stored = new Map((await repo.listSettingsAt(this.#db, at.scopeId)).map((row) => [row.key, row]));
    return SETTING_KEYS.map((declared) => toSetting(declared, at, stored.get(declared.key)));
  }

  async get(caller: Caller, key: string, query: SettingScopeQuery): Promise<Setting> {
    const declared = settingKey(key);
    const at = await this.#scope(caller, query, false);
    return toSetting(declared, at, await repo.findSetting(this.#db, at.scopeId, key));
  }

  /** Creates or replaces the value at the scope; `created` when the scope had none. */
  async replace(caller: Caller, key: string, query: SettingScopeQuery, input: Schemas['SettingWrite'], ctx: RequestContext): Promise<{ setting: Setting; created: boolean }> {
    const declared = settingKey(key);
    const at = await this.#scope(caller, query, true);
    const value = checkedValue(declared, input.value);
    const written = await repo.upsertSetting(
      this.#db,
      { scope_id: at.scopeId, key, scope: at.scope, team_id: at.teamId, group_id: at.groupId, value },
      ctx.expectedUpdatedAt,
    );
    if (!written) throw movedOn('setting');
    return { setting: toSetting(declared, at, written.row), created: written.created };
  }

  /** Unsets the value at the scope (nothing to unset is fine); with If-Match, only the version read. */
  async delete(caller: Caller, key: string, query: SettingScopeQuery, ctx: RequestContext): Promise<void> {
    settingKey(key);
    const at = await this.#scope(caller, query, true);
    if (await repo.deleteSetting(this.#db, at.scopeId, key, ctx.expectedUpdatedAt)) return;
    if (ctx.expectedUpdatedAt && (await repo.findSetting(this.#db, at.scopeId, key))) throw movedOn('setting');
  }

  /** The calling agent's effective configuration: one query. */
  async ofAgentItself(agent: Caller): Promise<AgentConfig> {
    const agentId = agent.agentId!;
    const teamId = agent.teamIds[0]!;
    return effectiveConfiguration(agentId, teamId, await repo.appliedConfiguration(this.#db, agentId, teamId));
  }

  /** How one of the caller's teams' agents stands against its `required_packages` policies (404 for another team's). */
  async complianceOf(caller: Caller, agentId: string): Promise<Schemas['AgentCompliance']> {
    const agent = await findAgent(this.#db, agentId, caller.teamIds);
    if (!agent) throw notFound('Agent', agentId);
    const { policies } = await repo.appliedConfiguration(this.#db, agent.id, agent.team_id);
    const required = policies.flatMap((policy) =>
      policy.rules.kind === 'required_packages' ? policy.rules.packages.map((pkg) => ({ policy_id: policy.id, policy_name: policy.name, ...pkg })) : [],
    );
    const reported = new Map<string, string[]>();
    for (const row of await repo.reportedVersions(this.#db, agent.id, [...new Set(required.map((r) => r.name))])) reported.set(row.name, [...(reported.get(row.name) ?? []), row.version]);
    const packages = required.map((r) => ({ ...r, ...standing([...(reported.get(r.name) ?? [])], r.min_version) }));
    return { agent_id: agent.id, compliant: packages.every((p) => p.status === 'ok'), packages };
  }

  /** One of the caller's teams' agents' effective configuration (404 for another team's). */
  async ofAgent(caller: Caller, agentId: string): Promise<AgentConfig> {
    const agent = await findAgent(this.#db, agentId, caller.teamIds);
    if (!agent) throw notFound('Agent', agentId);
    return effectiveConfiguration(agent.id, agent.team_id, await repo.appliedConfiguration(this.#db, agent.id, agent.team_id));
  }
}
