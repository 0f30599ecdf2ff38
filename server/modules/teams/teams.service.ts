// Teams and memberships. A caller sees its own teams (every team with `admin:teams`); any other team
// is answered 404, as if it did not exist.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { cursorValue } from '../../db/keyset.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import type { Database } from '../../db/schema.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage, type ListQuery } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { findUser } from '../users/users.repository.ts';
import * as repo from './teams.repository.ts';

type Team = components['schemas']['Team'];
type TeamMember = components['schemas']['TeamMember'];

function toTeam(row: repo.TeamWithCount): Team {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    member_count: row.member_count,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function toMember(row: repo.MemberRow): TeamMember {
  return { user_id: row.user_id, email: row.email, name: row.name, role: row.role, joined_at: row.joined_at.toISOString() };
}

function conflictOnName(err: unknown, name: string | undefined): never {
  if (isUniqueViolation(err, 'teams_name_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `A team named ${name} already exists`, { details: [{ field: 'name', message: 'already taken', value: name ?? null }] });
  }
  throw err;
}

/** The teams a caller may see: `null` means every team. */
export const visibleTeams = (caller: Caller): readonly string[] | null => (caller.permissions.has('admin:teams') ? null : caller.teamIds);

export class TeamService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(caller: Caller, query: NonNullable<operations['listTeams']['parameters']['query']>, ctx: RequestContext): Promise<{ items: Team[]; pagination: Pagination }> {
    const filter: repo.TeamFilter = { teamIds: visibleTeams(caller), search: query.search };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'name:asc',
      filter: { search: query.search },
      rows: (keys, window) => repo.listTeams(this.#db, filter, keys, window),
      count: () => repo.countTeams(this.#db, filter),
      cursorValue: (row, field) => cursorValue(field === 'name' ? row.name.toLowerCase() : row[field]),
    });
    return { items: rows.map(toTeam), pagination };
  }

  async get(caller: Caller, id: string): Promise<Team> {
    const row = await repo.findTeam(this.#db, id, visibleTeams(caller));
    if (!row) throw notFound('Team', id);
    return toTeam(row);
  }

  async create(caller: Caller, input: components['schemas']['TeamCreate']): Promise<Team> {
    const id = uuidv7();
    await this.#db
      .transaction()
      .execute(async (trx) => {
        await repo.insertTeam(trx, { id, name: input.name, description: input.description ?? null });
        await repo.addMember(trx, id, caller.userId);
      })
      .catch((err: unknown) => conflictOnName(err, input.name));
    return toTeam((await repo.findTeam(this.#db, id, null))!);
  }

  async update(caller: Caller, id: string, patch: components['schemas']['TeamPatch'], expectedUpdatedAt: string | null): Promise<Team> {
    await this.get(caller, id);
    const changes: { name?: string; description?: string | null } = {};
    if (patch.name !== undefined) changes.name = patch.name;
    if (patch.description !== undefined) changes.description = patch.description;
    if (Object.keys(changes).length > 0) {
      const updated = await repo.updateTeam(this.#db, id, changes, expectedUpdatedAt).catch((err: unknown) => conflictOnName(err, patch.name));
      if (!updated) throw movedOn('team');
    }
    return this.get(caller, id);
  }

  async delete(caller: Caller, id: string, expectedUpdatedAt: string | null): Promise<void> {
    await this.get(caller, id);
    if (await repo.ownsResources(this.#db, id)) throw new ApiError('RES_CONFLICT', `Team ${id} still owns agents; move or delete them first`);
    if (!(await repo.deleteTeam(this.#db, id, expectedUpdatedAt))) throw movedOn('team');
  }

  async members(caller: Caller, teamId: string, query: ListQuery, ctx: RequestContext): Promise<{ items: TeamMember[]; pagination: Pagination }> {
    await this.get(caller, teamId);
    const { rows, pagination } = await listPage({ ...query, sort: 'joined_at:asc' }, ctx, {
      sortable: ['joined_at'] as const,
      defaultSort: 'joined_at:asc',
      filter: teamId,
      rows: (keys, window) => repo.listMembers(this.#db, teamId, keys, window),
      count: () => repo.countMembers(this.#db, teamId),
    });
    return { items: rows.map(toMember), pagination };
  }

  async addMember(caller: Caller, teamId: string, userId: string): Promise<TeamMember> {
    await this.get(caller, teamId);
    if (!(await findUser(this.#db, userId))) throw notFound('User', userId);
    await repo.addMember(this.#db, teamId, userId).catch((err: unknown) => {
      if (isUniqueViolation(err)) throw new ApiError('RES_ALREADY_EXISTS', `User ${userId} is already a member`);
      throw err;
    });
    return toMember((await repo.findMember(this.#db, teamId, userId))!);
  }

  async removeMember(caller: Caller, teamId: string, userId: string): Promise<void> {
    await this.get(caller, teamId);
    if (!(await repo.removeMember(this.#db, teamId, userId))) throw notFound('Member', userId);
  }
}
