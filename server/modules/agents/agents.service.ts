// The rules for agents: team scope, unique hostnames within a team, merge-patch semantics, lists (v1, and
// v2 with groups, health scores and a summary), If-Match preconditions, and the cached summaries and
// counts (invalidated by every write).
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { CachedRows } from '../../db/cached-rows.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import type { Executor } from '../../db/executor.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { AgentRowUpdate } from '../../db/schema.ts';
import type { TaggedCache } from '../../edge/tagged-cache.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage, type ListQuery } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { toAgent, toAgentV2, type Agent, type AgentGroupRef, type AgentV2 } from './agents.mapper.ts';
import * as repo from './agents.repository.ts';
import { groupsOfAgents } from '../agent-groups/agent-groups.repository.ts';
import { unresolvedBySeverity } from '../alerts/alerts.repository.ts';
import { cancelChildrenOfAgent } from '../tasks/tasks.fleet.ts';

type Schemas = components['schemas'];
export type AgentListQuery = NonNullable<operations['listAgents']['parameters']['query']>;
export type AgentListV2Query = NonNullable<operations['listAgentsV2']['parameters']['query']>;
/** What decides which agents a list matches, the same in v1 and v2. */
type AgentFilterQuery = Pick<AgentListQuery, 'team_id' | 'status' | 'platform' | 'search' | 'group_id' | 'created_after' | 'created_before'>;

type AlertSeverity = Schemas['AlertSeverity'];

/** What one unresolved alert about an online agent takes off its health score (the rule of the AgentHealthScore schema). */
export const HEALTH_PENALTY: Readonly<Record<AlertSeverity, number>> = { critical: 30, warning: 10, info: 2 };

/** 0 offline, 50 in maintenance, else 100 less the penalties of its unresolved alerts, never below 0. */
export function healthScore(status: Schemas['AgentStatus'], unresolved: Partial<Record<AlertSeverity, number>>): number {
  if (status === 'offline') return 0;
  if (status === 'maintenance') return 50;
  let score = 100;
  for (const [severity, n] of Object.entries(unresolved) as Array<[AlertSeverity, number]>) score -= HEALTH_PENALTY[severity] * n;
  return Math.max(0, score);
}

function conflictOnHostname(err: unknown, hostname: string): never {
  if (isUniqueViolation(err, 'agents_team_hostname_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `An agent with hostname ${hostname} already exists in this team`, {
      details: [{ field: 'hostname', message: 'already taken in this team', value: hostname }],
    });
  }
  throw err;
}

/** The cache tag of one team's agents. */
export const teamTag = (teamId: string) => `agents:${teamId}`;

/** The teams a read covers: one named team (if the caller's), or all of the caller's. */
const scope = (caller: Caller, teamId: string | undefined): readonly string[] =>
  teamId === undefined ? caller.teamIds : caller.teamIds.filter((id) => id === teamId);

/** A list's filter, the teams it covers (the tags of what is cached for it) and its cache key. */
function filterOf(caller: Caller, query: AgentFilterQuery): { filter: repo.AgentFilter; teams: readonly string[]; key: string } {
  const filter: repo.AgentFilter = {
    teamIds: caller.teamIds,
    teamId: query.team_id,
    status: query.status,
    platform: query.platform,
    search: query.search,
    groupId: query.group_id,
    createdAfter: query.created_after,
    createdBefore: query.created_before,
  };
  const teams = scope(caller, query.team_id);
  return { filter, teams, key: JSON.stringify({ ...filter, teamIds: [...teams].sort() }) };
}

export class AgentService {
  readonly #db: Executor;
  readonly #cache: TaggedCache;
  readonly #rows: CachedRows<Agent>;

  /** `rows`: the process's agents as `get` answered them, kept current by the change feed (db/cached-rows.ts). */
  constructor(db: Executor, cache: TaggedCache, rows: CachedRows<Agent>) {
    this.#db = db;
    this.#cache = cache;
    this.#rows = rows;
  }

  async list(caller: Caller, query: AgentListQuery, ctx: RequestContext): Promise<{ items: Agent[]; pagination: Pagination }> {
    const { filter, teams, key } = filterOf(caller, query);
    // Counting is the costly part of an offset page on a large fleet.
    const count = () => this.#cache.getOrCompute(`agents:count:${key}`, teams.map(teamTag), () => repo.countAgents(this.#db, filter));
    const { rows, pagination } = await this.#page(query, ctx, filter, count);
    return { items: rows.map(toAgent), pagination };
  }

  /**
   * The v2 list: a page as in v1, each agent with its groups and health score, and the summary of every
   * matching agent. Per page: the rows, one query for the groups and one for the unresolved alerts; the
   * summary is one aggregate query, cached like v1's count, and in offset mode it is the page's count too.
   */
  async listWithGroups(
    caller: Caller,
    query: AgentListV2Query,
    ctx: RequestContext,
  ): Promise<{ items: AgentV2[]; pagination: Pagination; summary: Schemas['AgentListSummary'] }> {
    const { filter, teams, key } = filterOf(caller, query);
    const summarized = this.#cache.getOrCompute(`agents:list-summary:${key}`, teams.map(teamTag), () => this.#summarize(filter));
    // Awaited together, so a failed summary is handled even when the page (cursor mode) never asks for it.
    const [{ rows, pagination }, summary] = await Promise.all([this.#page(query, ctx, filter, async () => (await summarized).total), summarized]);
    const ids = rows.map((row) => row.id);
    const [memberships, alerts] = await Promise.all([
      groupsOfAgents(this.#db, ids, caller.teamIds),
      unresolvedBySeverity(this.#db, ids, caller.teamIds),
    ]);
    const groups = new Map<string, AgentGroupRef[]>();
    for (const { agent_id, id, name } of memberships) groups.set(agent_id, [...(groups.get(agent_id) ?? []), { id, name }]);
    const unresolved = new Map<string, Partial<Record<AlertSeverity, number>>>();
    for (const { agent_id, severity, n } of alerts) {
      if (agent_id !== null) unresolved.set(agent_id, { ...unresolved.get(agent_id), [severity]: n });
    }
    const items = rows.map((row) => toAgentV2(row, groups.get(row.id) ?? [], healthScore(row.status, unresolved.get(row.id) ?? {})));
    return { items, pagination, summary };
  }

  /** One page of agents, as v1 and v2 both list them; `count` answers the total in offset mode. */
  #page(query: ListQuery, ctx: RequestContext, filter: repo.AgentFilter, count: () => Promise<number>) {
    return listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listAgents(this.#db, filter, keys, window),
      count,
      cursorValue: repo.cursorValue,
    });
  }

  async #summarize(filter: repo.AgentFilter): Promise<Schemas['AgentListSummary']> {
    const summary: Schemas['AgentListSummary'] = { total: 0, by_status: { online: 0, offline: 0, maintenance: 0 }, groups: 0 };
    for (const row of await repo.summarizeAgents(this.#db, filter)) {
      summary.total += row.n;
      summary.by_status[row.status] += row.n;
      summary.groups = row.groups;
    }
    return summary;
  }

  async summary(caller: Caller, teamId: string | undefined, groupId?: string): Promise<Schemas['AgentSummary']> {
    const teams = [...scope(caller, teamId)].sort();
    const key = `agents:summary:${teams.join(',')}${groupId ? `:group:${groupId}` : ''}`;
    return this.#cache.getOrCompute(key, teams.map(teamTag), async () => {
      const summary: Schemas['AgentSummary'] = {
        total: 0,
        by_status: { online: 0, offline: 0, maintenance: 0 },
        by_platform: { linux: 0, windows: 0, macos: 0, bsd: 0 },
      };
      for (const row of await repo.countByStatusAndPlatform(this.#db, teams, groupId)) {
        summary.total += row.n;
        summary.by_status[row.status] += row.n;
        summary.by_platform[row.platform] += row.n;
      }
      return summary;
    });
  }

  async get(caller: Caller, id: string): Promise<Agent> {
    const agent = await this.#rows.get(id, caller.teamIds, async () => {
      const row = await repo.findAgent(this.#db, id, caller.teamIds);
      return row && toAgent(row);
    });
    if (!agent) throw notFound('Agent', id);
    return agent;
  }

  async create(caller: Caller, input: Schemas['AgentCreate']): Promise<Agent> {
    const teamId = owningTeam(caller, input.team_id);
    const row = await repo
      .insertAgent(this.#db, {
        id: uuidv7(),
        team_id: teamId,
        hostname: input.hostname,
        ip_address: input.ip_address,
        platform: input.platform,
        os_version: input.os_version ?? null,
        agent_version: input.agent_version ?? null,
        status: input.status ?? 'offline',
        tags: input.tags ?? [],
        last_seen: null,
      })
      .catch((err: unknown) => conflictOnHostname(err, input.hostname));
    await this.#cache.invalidate([teamTag(teamId)]);
    return toAgent(row);
  }

  async replace(caller: Caller, id: string, input: Schemas['AgentReplace'], ctx: RequestContext): Promise<Agent> {
    return this.#update(caller, id, { ...input }, input.hostname, ctx);
  }

  /** JSON merge patch (RFC 7396): the fields are flat, so a present key sets and `null` clears. */
  async patch(caller: Caller, id: string, input: Schemas['AgentPatch'], ctx: RequestContext): Promise<Agent> {
    const changes: AgentRowUpdate = {};
    for (const [key, value] of Object.entries(input)) {
      if (value !== undefined) (changes as Record<string, unknown>)[key] = value;
    }
    if (Object.keys(changes).length === 0) return this.get(caller, id);
    return this.#update(caller, id, changes, input.hostname, ctx);
  }

  /** Deletes the agent and its tasks; its unfinished children of fleet tasks are counted cancelled first. */
  async delete(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    const deleted = await this.#db.transaction().execute(async (trx) => {
      // First, while they exist (the delete cascades to them); undone with the rest if the delete finds no agent.
      await cancelChildrenOfAgent(trx, id);
      const row = await repo.deleteAgent(trx, id, caller.teamIds, ctx.expectedUpdatedAt);
      if (!row) throw await this.#missingOrMoved(caller, id, ctx);
      return row;
    });
    await this.#cache.invalidate([teamTag(deleted.team_id)]);
  }

  async #update(caller: Caller, id: string, changes: AgentRowUpdate, hostname: string | undefined, ctx: RequestContext): Promise<Agent> {
    const row = await repo
      .updateAgent(this.#db, id, caller.teamIds, changes, ctx.expectedUpdatedAt)
      .catch((err: unknown) => conflictOnHostname(err, hostname ?? ''));
    if (!row) throw await this.#missingOrMoved(caller, id, ctx);
    await this.#cache.invalidate([teamTag(row.team_id)]);
    return toAgent(row);
  }

  /** After a write found no row: 412 when an If-Match version moved on, else 404. */
  async #missingOrMoved(caller: Caller, id: string, ctx: RequestContext): Promise<ApiError> {
    if (ctx.expectedUpdatedAt && (await repo.findAgent(this.#db, id, caller.teamIds))) {
      return movedOn('agent');
    }
    return notFound('Agent', id);
  }
}
