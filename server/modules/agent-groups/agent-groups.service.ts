// Agent groups: named sets of one team's agents. Team scope (another team's group is 404), names unique
// per team regardless of case, merge-patch semantics, If-Match preconditions, and memberships that only
// ever join a group with agents of its own team. Membership changes invalidate the team's cached agent
// counts, since `listAgents?group_id=…` and the summary count by membership.
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { cursorValue } from '../../db/keyset.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import type { Executor } from '../../db/executor.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { TaggedCache } from '../../edge/tagged-cache.ts';
import { ApiError, movedOn, notFound, type ErrorDetail } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import type { Agent } from '../agents/agents.mapper.ts';
import { teamTag, type AgentService } from '../agents/agents.service.ts';
import { toAgentGroup, type AgentGroup } from './agent-groups.mapper.ts';
import * as repo from './agent-groups.repository.ts';

type Schemas = components['schemas'];
export type AgentGroupListQuery = NonNullable<operations['listAgentGroups']['parameters']['query']>;
export type AgentGroupMemberListQuery = NonNullable<operations['listAgentGroupMembers']['parameters']['query']>;

/** The most refused ids an error names one by one (the error envelope's `details` holds 100). */
const MAX_DETAILS = 100;

function conflictOnName(err: unknown, name: string | undefined): never {
  if (isUniqueViolation(err, 'agent_groups_team_name_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `An agent group named ${name} already exists in this team`, {
      details: [{ field: 'name', message: 'already taken in this team', value: name ?? null }],
    });
  }
  throw err;
}

export class AgentGroupService {
  readonly #db: Executor;
  readonly #cache: TaggedCache;
  readonly #agents: AgentService;

  constructor(db: Executor, cache: TaggedCache, agents: AgentService) {
    this.#db = db;
    this.#cache = cache;
    this.#agents = agents;
  }

  async list(caller: Caller, query: AgentGroupListQuery, ctx: RequestContext): Promise<{ items: AgentGroup[]; pagination: Pagination }> {
    const filter: repo.AgentGroupFilter = { teamIds: caller.teamIds, teamId: query.team_id, search: query.search };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'name:asc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listGroups(this.#db, filter, keys, window),
      count: () => repo.countGroups(this.#db, filter),
      cursorValue: (row, field) => cursorValue(field === 'name' ? row.name.toLowerCase() : row[field]),
    });
    return { items: rows.map(toAgentGroup), pagination };
  }

  async get(caller: Caller, id: string): Promise<AgentGroup> {
    const row = await repo.findGroup(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Agent group', id);
    return toAgentGroup(row);
  }

  async create(caller: Caller, input: Schemas['AgentGroupCreate']): Promise<AgentGroup> {
    const teamId = owningTeam(caller, input.team_id);
    const id = uuidv7();
    await repo
      .insertGroup(this.#db, { id, team_id: teamId, name: input.name, description: input.description ?? null })
      .catch((err: unknown) => conflictOnName(err, input.name));
    return this.get(caller, id);
  }

  /** JSON merge patch (RFC 7396): the fields are flat, so a present key sets and `null` clears. */
  async patch(caller: Caller, id: string, input: Schemas['AgentGroupPatch'], ctx: RequestContext): Promise<AgentGroup> {
    const changes: { name?: string; description?: string | null } = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (Object.keys(changes).length === 0) return this.get(caller, id);
    const updated = await repo
      .updateGroup(this.#db, id, caller.teamIds, changes, ctx.expectedUpdatedAt)
      .catch((err: unknown) => conflictOnName(err, input.name));
    if (!updated) throw await this.#missingOrMoved(caller, id, ctx);
    return this.get(caller, id);
  }

  async delete(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    const deleted = await repo.deleteGroup(this.#db, id, caller.teamIds, ctx.expectedUpdatedAt);
    if (!deleted) throw await this.#missingOrMoved(caller, id, ctx);
    await this.#cache.invalidate([teamTag(deleted.team_id)]);
  }

  /** The group's agents: `listAgents` with `group_id`, once the group is known to be the caller's. */
  async members(caller: Caller, id: string, query: AgentGroupMemberListQuery, ctx: RequestContext): Promise<{ items: Agent[]; pagination: Pagination }> {
    await this.get(caller, id);
    return this.#agents.list(caller, { ...query, group_id: id }, ctx);
  }

  /**
   * Adds agents of the group's team, all or nothing: any id that is not an agent of that team (another
   * team's, or none at all: the answer does not tell them apart) refuses the whole request with 422.
   */
  async addMembers(caller: Caller, id: string, agentIds: readonly string[]): Promise<Schemas['AgentGroupMembersAdded']> {
    const group = await this.get(caller, id);
    const wanted = [...new Set(agentIds)];
    const added = await this.#db.transaction().execute(async (trx) => {
      // The group row is locked first, so a racing delete of the group waits for this to finish.
      if (!(await repo.lockGroup(trx, id))) throw notFound('Agent group', id);
      const inTeam = await repo.agentsOfTeam(trx, group.team_id, wanted);
      const refused = wanted.filter((agentId) => !inTeam.has(agentId));
      if (refused.length > 0) throw notInTeam(agentIds, refused);
      const inserted = await repo.addMembers(trx, id, wanted);
      if (inserted.size > 0) await repo.touchGroup(trx, id);
      return inserted;
    });
    if (added.size > 0) await this.#cache.invalidate([teamTag(group.team_id)]);
    return { added: wanted.filter((a) => added.has(a)), already_members: wanted.filter((a) => !added.has(a)) };
  }

  async removeMember(caller: Caller, id: string, agentId: string): Promise<void> {
    const group = await this.get(caller, id);
    const removed = await this.#db.transaction().execute(async (trx) => {
      const gone = await repo.removeMember(trx, id, agentId);
      if (gone) await repo.touchGroup(trx, id);
      return gone;
    });
    if (!removed) throw new ApiError('RES_NOT_FOUND', `Agent ${agentId} is not a member of agent group ${id}`);
    await this.#cache.invalidate([teamTag(group.team_id)]);
  }

  /** After a write found no row: 412 when an If-Match version moved on, else 404. */
  async #missingOrMoved(caller: Caller, id: string, ctx: RequestContext): Promise<ApiError> {
    if (ctx.expectedUpdatedAt && (await repo.findGroup(this.#db, id, caller.teamIds))) return movedOn('agent group');
    return notFound('Agent group', id);
  }
}

/** 422 naming each refused id by its first position in the request. */
function notInTeam(requested: readonly string[], refused: readonly string[]): ApiError {
  const details: ErrorDetail[] = refused.slice(0, MAX_DETAILS).map((agentId) => ({
    field: `agent_ids.${requested.indexOf(agentId)}`,
    message: "not an agent of the group's team",
    value: agentId,
  }));
  const more = refused.length > MAX_DETAILS ? ` (the first ${MAX_DETAILS} are listed)` : '';
  return new ApiError('BIZ_AGENT_NOT_IN_TEAM', `${refused.length} of the agents are not agents of the group's team; none was added${more}`, { details });
}
