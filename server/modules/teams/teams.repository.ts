import { sql, type RawBuilder } from 'kysely';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';

export const SORTABLE_FIELDS = ['name', 'created_at'] as const;
export type TeamSortField = (typeof SORTABLE_FIELDS)[number];

export interface TeamFilter {
  /** The teams visible to the caller, or `null` for every team (`admin:teams`). */
  teamIds: readonly string[] | null;
  search?: string | undefined;
}

const memberCount = sql<number>`(select count(*)::int from team_members m where m.team_id = teams.id)`.as('member_count');
const teamColumns = ['id', 'name', 'description', 'created_at', 'updated_at', memberCount] as const;
const sortExpression = (field: TeamSortField | 'id'): RawBuilder<unknown> => (field === 'name' ? sql`lower(name)` : sql.ref(field));

function visible(db: Executor, teamIds: readonly string[] | null) {
  const query = db.selectFrom('teams');
  if (teamIds === null) return query;
  return teamIds.length > 0 ? query.where('id', 'in', teamIds) : query.where(sql<boolean>`false`);
}

function filtered(db: Executor, filter: TeamFilter) {
  let query = visible(db, filter.teamIds);
  if (filter.search) query = query.where('name', 'ilike', `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  return query;
}

export const listTeams = (db: Executor, filter: TeamFilter, keys: SortKey<TeamSortField>[], window: Window) =>
  pageOf(filtered(db, filter).select(teamColumns), keys, window, sortExpression).execute();

export type TeamWithCount = Awaited<ReturnType<typeof listTeams>>[number];

export async function countTeams(db: Executor, filter: TeamFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findTeam = (db: Executor, id: string, teamIds: readonly string[] | null): Promise<TeamWithCount | undefined> =>
  visible(db, teamIds).select(teamColumns).where('id', '=', id).executeTakeFirst();

export async function insertTeam(db: Executor, row: { id: string; name: string; description: string | null }): Promise<void> {
  await db.insertInto('teams').values(row).execute();
}

/** `expectedUpdatedAt`: change the team only if it is still that version (an If-Match that held). */
export async function updateTeam(db: Executor, id: string, changes: { name?: string; description?: string | null }, expectedUpdatedAt: string | null): Promise<boolean> {
  let query = db.updateTable('teams').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numUpdatedRows > 0n;
}

export async function deleteTeam(db: Executor, id: string, expectedUpdatedAt: string | null): Promise<boolean> {
  let query = db.deleteFrom('teams').where('id', '=', id);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numDeletedRows > 0n;
}

export async function ownsResources(db: Executor, id: string): Promise<boolean> {
  return (await db.selectFrom('agents').select('id').where('team_id', '=', id).limit(1).executeTakeFirst()) !== undefined;
}

const memberColumns = ['team_members.user_id', 'users.email', 'users.name', 'users.role', 'team_members.joined_at'] as const;
const members = (db: Executor, teamId: string) =>
  db.selectFrom('team_members').innerJoin('users', 'users.id', 'team_members.user_id').where('team_members.team_id', '=', teamId);

export const listMembers = (db: Executor, teamId: string, keys: SortKey<'joined_at'>[], window: Window) =>
  pageOf(members(db, teamId).select([...memberColumns, 'team_members.user_id as id']), keys, window, (field) =>
    field === 'id' ? sql.ref('team_members.user_id') : sql.ref(`team_members.${field}`),
  ).execute();

export type MemberRow = Awaited<ReturnType<typeof listMembers>>[number];

export async function countMembers(db: Executor, teamId: string): Promise<number> {
  return (await members(db, teamId).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findMember = (db: Executor, teamId: string, userId: string): Promise<MemberRow | undefined> =>
  members(db, teamId).select([...memberColumns, 'team_members.user_id as id']).where('team_members.user_id', '=', userId).executeTakeFirst();

export async function addMember(db: Executor, teamId: string, userId: string): Promise<void> {
  await db.insertInto('team_members').values({ team_id: teamId, user_id: userId }).execute();
}

export async function removeMember(db: Executor, teamId: string, userId: string): Promise<boolean> {
  return (await db.deleteFrom('team_members').where('team_id', '=', teamId).where('user_id', '=', userId).executeTakeFirst()).numDeletedRows > 0n;
}
