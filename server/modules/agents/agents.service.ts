// The rules for agents: unique hostnames, merge-patch semantics, list windows and cursors.
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import {
  cursorPagination,
  encodeCursor,
  offsetPagination,
  pageWindow,
  parseSort,
  type Pagination,
} from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import type { AgentRowUpdate } from '../../db/schema.ts';
import { toAgent, type Agent } from './agents.mapper.ts';
import * as repo from './agents.repository.ts';

type Schemas = components['schemas'];
export type AgentListQuery = NonNullable<operations['listAgents']['parameters']['query']>;

const DEFAULT_SORT = 'created_at:desc';

function conflictOnHostname(err: unknown, hostname: string): never {
  if (isUniqueViolation(err, 'agents_hostname_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `An agent with hostname ${hostname} already exists`, {
      details: [{ field: 'hostname', message: 'already taken', value: hostname }],
    });
  }
  throw err;
}

export class AgentService {
  readonly #db: repo.Executor;

  constructor(db: repo.Executor) {
    this.#db = db;
  }

  async list(query: AgentListQuery, ctx: RequestContext): Promise<{ items: Agent[]; pagination: Pagination }> {
    const sortRaw = query.sort ?? DEFAULT_SORT;
    const keys = parseSort(sortRaw, repo.SORTABLE_FIELDS);
    const filter: repo.AgentFilter = {
      status: query.status,
      platform: query.platform,
      search: query.search,
      createdAfter: query.created_after,
      createdBefore: query.created_before,
    };
    const queryKey = JSON.stringify([sortRaw, filter]);
    const window = pageWindow(query, ctx, queryKey, keys.length);

    if (window.mode === 'offset') {
      const [rows, total] = await Promise.all([
        repo.listAgents(this.#db, filter, keys, window),
        repo.countAgents(this.#db, filter),
      ]);
      return { items: rows.map(toAgent), pagination: offsetPagination(ctx, window.limit, window.offset, total) };
    }

    const rows = await repo.listAgents(this.#db, filter, keys, window);
    const page = rows.slice(0, window.limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > window.limit && last
        ? encodeCursor(queryKey, { values: keys.map((k) => repo.cursorValue(last, k.field)), id: last.id })
        : null;
    return { items: page.map(toAgent), pagination: cursorPagination(ctx, window.limit, window.after !== null, nextCursor) };
  }

  async get(id: string): Promise<Agent> {
    const row = await repo.findAgent(this.#db, id);
    if (!row) throw notFound('Agent', id);
    return toAgent(row);
  }

  async create(input: Schemas['AgentCreate']): Promise<Agent> {
    const row = await repo
      .insertAgent(this.#db, {
        id: uuidv7(),
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
    return toAgent(row);
  }

  async replace(id: string, input: Schemas['AgentReplace']): Promise<Agent> {
    return this.#update(id, { ...input }, input.hostname);
  }

  /** JSON merge patch (RFC 7396): the fields are flat, so a present key sets and `null` clears. */
  async patch(id: string, input: Schemas['AgentPatch']): Promise<Agent> {
    const changes: AgentRowUpdate = {};
    for (const [key, value] of Object.entries(input)) {
      if (value !== undefined) (changes as Record<string, unknown>)[key] = value;
    }
    if (Object.keys(changes).length === 0) return this.get(id);
    return this.#update(id, changes, input.hostname);
  }

  async delete(id: string): Promise<void> {
    if (!(await repo.deleteAgent(this.#db, id))) throw notFound('Agent', id);
  }

  async #update(id: string, changes: AgentRowUpdate, hostname: string | undefined): Promise<Agent> {
    const row = await repo
      .updateAgent(this.#db, id, changes)
      .catch((err: unknown) => conflictOnHostname(err, hostname ?? ''));
    if (!row) throw notFound('Agent', id);
    return toAgent(row);
  }
}
