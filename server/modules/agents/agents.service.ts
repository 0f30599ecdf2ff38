// The rules for agents: team scope, unique hostnames within a team, merge-patch semantics, lists,
// If-Match preconditions, and the cached summary and counts (invalidated by every write).
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import type { AgentRowUpdate } from '../../db/schema.ts';
import type { TaggedCache } from '../../edge/tagged-cache.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { toAgent, type Agent } from './agents.mapper.ts';
import * as repo from './agents.repository.ts';

type Schemas = components['schemas'];
export type AgentListQuery = NonNullable<operations['listAgents']['parameters']['query']>;

function conflictOnHostname(err: unknown, hostname: string): never {
  if (isUniqueViolation(err, 'agents_team_hostname_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `An agent with hostname ${hostname} already exists in this team`, {
      details: [{ field: 'hostname', message: 'already taken in this team', value: hostname }],
    });
  }
  throw err;
}

/** The team a new resource goes to: the one named (which must be the caller's), or the caller's only team. */
export function owningTeam(caller: Caller, requested: string | undefined): string {
  if (requested !== undefined) {
    if (!caller.teamIds.includes(requested)) throw notFound('Team', requested);
    return requested;
  }
  const [only, ...others] = caller.teamIds;
  if (only === undefined || others.length > 0) {
    throw new ApiError('VAL_REQUIRED_FIELD', 'team_id is required when the caller does not belong to exactly one team', {
      details: [{ field: 'team_id', message: `the caller belongs to ${caller.teamIds.length} teams` }],
    });
  }
  return only;
}

/** The cache tag of one team's agents. */
export const teamTag = (teamId: string) => `agents:${teamId}`;

/** The teams a read covers: one named team (if the caller's), or all of the caller's. */
const scope = (caller: Caller, teamId: string | undefined): readonly string[] =>
  teamId === undefined ? caller.teamIds : caller.teamIds.filter((id) => id === teamId);

export class AgentService {
  readonly #db: repo.Executor;
  readonly #cache: TaggedCache;

  constructor(db: repo.Executor, cache: TaggedCache) {
    this.#db = db;
    this.#cache = cache;
  }

  async list(caller: Caller, query: AgentListQuery, ctx: RequestContext): Promise<{ items: Agent[]; pagination: Pagination }> {
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
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listAgents(this.#db, filter, keys, window),
      // Counting is the costly part of an offset page on a large fleet.
      count: () =>
        this.#cache.getOrCompute(`agents:count:${JSON.stringify({ ...filter, teamIds: [...teams].sort() })}`, teams.map(teamTag), () =>
          repo.countAgents(this.#db, filter),
        ),
      cursorValue: repo.cursorValue,
    });
    return { items: rows.map(toAgent), pagination };
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
    const row = await repo.findAgent(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Agent', id);
    return toAgent(row);
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

  async delete(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    const deleted = await repo.deleteAgent(this.#db, id, caller.teamIds, ctx.expectedUpdatedAt);
    if (!deleted) throw await this.#missingOrMoved(caller, id, ctx);
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
