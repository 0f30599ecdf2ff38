// Thin Kysely queries for agent groups and their memberships, with explicit columns. Every query of a
// group is scoped to the caller's teams; membership queries take a group already found in scope.
import { sql, type RawBuilder } from 'kysely';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { onlyTeams } from '../../db/team-scope.ts';

export const SORTABLE_FIELDS = ['name', 'created_at'] as const;
export type AgentGroupSortField = (typeof SORTABLE_FIELDS)[number];

export interface AgentGroupFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  search?: string | undefined;
}

const agentCount = sql<number>`(select count(*)::int from agent_group_members m where m.group_id = agent_groups.id)`.as('agent_count');
const groupColumns = ['id', 'team_id', 'name', 'description', 'created_at', 'updated_at', agentCount] as const;

/** Names sort regardless of case, as they are unique regardless of case. */
const sortExpression = (field: AgentGroupSortField | 'id'): RawBuilder<unknown> => (field === 'name' ? sql`lower(name)` : sql.ref(field));

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

const inTeams = (db: Executor, teamIds: readonly string[]) => db.selectFrom('agent_groups').$call(onlyTeams(teamIds));

function filtered(db: Executor, filter: AgentGroupFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.search) query = query.where('name', 'ilike', `%${escapeLike(filter.search)}%`);
  return query;
}

export const listGroups = (db: Executor, filter: AgentGroupFilter, keys: SortKey<AgentGroupSortField>[], window: Window) =>
  pageOf(filtered(db, filter).select(groupColumns), keys, window, sortExpression).execute();

export type AgentGroupWithCount = Awaited<ReturnType<typeof listGroups>>[number];

export async function countGroups(db: Executor, filter: AgentGroupFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findGroup = (db: Executor, id: string, teamIds: readonly string[]): Promise<AgentGroupWithCount | undefined> =>
  inTeams(db, teamIds).select(groupColumns).where('id', '=', id).executeTakeFirst();

export async function insertGroup(db: Executor, row: { id: string; team_id: string; name: string; description: string | null }): Promise<void> {
  await db.insertInto('agent_groups').values(row).execute();
}

/** `expectedUpdatedAt`: change the group only if it is still that version (an If-Match that held). */
export async function updateGroup(
  db: Executor,
  id: string,
  teamIds: readonly string[],
  changes: { name?: string; description?: string | null },
  expectedUpdatedAt: string | null,
): Promise<boolean> {
  if (teamIds.length === 0) return false;
  let query = db.updateTable('agent_groups').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numUpdatedRows > 0n;
}

/** Deletes the group (its memberships cascade); answers its team, or nothing when no row matched. */
export async function deleteGroup(db: Executor, id: string, teamIds: readonly string[], expectedUpdatedAt: string | null): Promise<{ team_id: string } | undefined> {
  if (teamIds.length === 0) return undefined;
  let query = db.deleteFrom('agent_groups').where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return query.returning('team_id').executeTakeFirst();
}

/** Locks the group row for the rest of the transaction; `false` when it is gone. */
export async function lockGroup(db: Executor, id: string): Promise<boolean> {
  return (await db.selectFrom('agent_groups').select('id').where('id', '=', id).forUpdate().executeTakeFirst()) !== undefined;
}

/** Marks the group changed (its membership is part of what it is). */
export async function touchGroup(db: Executor, id: string): Promise<void> {
  await db.updateTable('agent_groups').set({ updated_at: sql`now()` }).where('id', '=', id).execute();
}

/** Of these agent ids, those of agents in one team, locked against deletion until the transaction ends. */
export async function agentsOfTeam(db: Executor, teamId: string, agentIds: readonly string[]): Promise<Set<string>> {
  if (agentIds.length === 0) return new Set();
  const rows = await db.selectFrom('agents').select('id').where('team_id', '=', teamId).where('id', 'in', agentIds).forShare().execute();
  return new Set(rows.map((r) => r.id));
}

/** Adds memberships, skipping those that exist; answers the agents actually added. */
export async function addMembers(db: Executor, groupId: string, agentIds: readonly string[]): Promise<Set<string>> {
  if (agentIds.length === 0) return new Set();
  const rows = await db
    .insertInto('agent_group_members')
    .values(agentIds.map((agent_id) => ({ group_id: groupId, agent_id })))
    .onConflict((oc) => oc.columns(['group_id', 'agent_id']).doNothing())
    .returning('agent_id')
    .execute();
  return new Set(rows.map((r) => r.agent_id));
}

export async function removeMember(db: Executor, groupId: string, agentId: string): Promise<boolean> {
  const result = await db.deleteFrom('agent_group_members').where('group_id', '=', groupId).where('agent_id', '=', agentId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** The groups of each of these agents, by name regardless of case: one query for a whole page of agents. */
export async function groupsOfAgents(db: Executor, agentIds: readonly string[], teamIds: readonly string[]) {
  if (agentIds.length === 0 || teamIds.length === 0) return [];
  return db
    .selectFrom('agent_group_members as m')
    .innerJoin('agent_groups as g', 'g.id', 'm.group_id')
    .select(['m.agent_id', 'g.id', 'g.name'])
    .where('m.agent_id', 'in', [...agentIds])
    .where('g.team_id', 'in', [...teamIds])
    .orderBy(sql`lower(g.name)`)
    .orderBy('g.id')
    .execute();
}
