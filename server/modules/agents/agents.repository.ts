// Thin Kysely queries for agents, with explicit columns. Every query is scoped to the caller's teams;
// every function takes a Kysely instance or a transaction, so the service decides what runs together.
import { sql, type QueryCreator, type RawBuilder } from 'kysely';
import type { AgentRow, AgentRowUpdate, Database, NewAgentRow } from '../../db/schema.ts';
import type { Executor } from '../../db/executor.ts';
import { cursorValue as toCursorValue, pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import { createdWithin, onlyTeams } from '../../db/team-scope.ts';

export const SORTABLE_FIELDS = ['hostname', 'status', 'platform', 'last_seen', 'created_at', 'updated_at'] as const;
export type AgentSortField = (typeof SORTABLE_FIELDS)[number];

export interface AgentFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  /** Only these agents (at least one). */
  ids?: readonly string[] | undefined;
  status?: AgentRow['status'] | undefined;
  platform?: AgentRow['platform'] | undefined;
  search?: string | undefined;
  /** Only members of this agent group. */
  groupId?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
}

// inet is returned as plain text without a prefix length (`10.0.4.21`, not `10.0.4.21/32`).
export const agentColumns = [
  'id',
  'team_id',
  'hostname',
  sql<string>`host(ip_address)`.as('ip_address'),
  'platform',
  'os_version',
  'agent_version',
  'status',
  'tags',
  'last_seen',
  'created_at',
  'updated_at',
] as const;

/** Sort expression of a field; a never-seen agent sorts as the oldest `last_seen`, so keysets never meet NULL. */
function sortExpression(field: AgentSortField | 'id'): RawBuilder<unknown> {
  return field === 'last_seen' ? sql`coalesce(last_seen, '-infinity'::timestamptz)` : sql.ref(field);
}

/** The cursor value of a row for one sort field, comparable with `sortExpression`. */
export function cursorValue(row: AgentRow, field: AgentSortField): string | number | null {
  if (field === 'last_seen' && row.last_seen === null) return '-infinity';
  return toCursorValue(row[field]);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const inTeams = (db: QueryCreator<Database>, teamIds: readonly string[]) => db.selectFrom('agents').$call(onlyTeams(teamIds));

/** Agents that are members of a group (the membership table's primary key answers it). */
const inGroup = (groupId: string) =>
  sql<boolean>`exists (select 1 from agent_group_members m where m.group_id = ${groupId} and m.agent_id = agents.id)`;

/** The agents a filter matches (the caller's teams only), for lists and for other modules' fleet-wide reads. */
export function agentsMatching(db: QueryCreator<Database>, filter: AgentFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.ids) query = query.where('id', 'in', filter.ids);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.platform) query = query.where('platform', '=', filter.platform);
  query = query.$call(createdWithin(filter.createdAfter, filter.createdBefore));
  if (filter.groupId) query = query.where(inGroup(filter.groupId));
  if (filter.search) {
    const term = escapeLike(filter.search);
    query = query.where((eb) =>
      eb.or([eb('hostname', 'ilike', `%${term}%`), eb(sql<string>`host(ip_address)`, 'like', `${term}%`)]),
    );
  }
  return query;
}

export async function listAgents(db: Executor, filter: AgentFilter, keys: SortKey<AgentSortField>[], window: Window): Promise<AgentRow[]> {
  return pageOf(agentsMatching(db, filter).select(agentColumns), keys, window, sortExpression).execute();
}

export async function countAgents(db: Executor, filter: AgentFilter): Promise<number> {
  const row = await agentsMatching(db, filter).select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow();
  return row.total;
}

/** The matching agents' ids and statuses by hostname, at most `limit` of them (the agents a fleet task runs on). */
export const matchingAgents = (db: Executor, filter: AgentFilter, limit: number): Promise<Array<Pick<AgentRow, 'id' | 'status'>>> =>
  agentsMatching(db, filter).select(['id', 'status']).orderBy('hostname').orderBy('id').limit(limit).execute();

export async function findAgent(db: Executor, id: string, teamIds: readonly string[]): Promise<AgentRow | undefined> {
  return inTeams(db, teamIds).select(agentColumns).where('id', '=', id).executeTakeFirst();
}

export async function insertAgent(db: Executor, row: NewAgentRow): Promise<AgentRow> {
  return db.insertInto('agents').values(row).returning(agentColumns).executeTakeFirstOrThrow();
}

/** `expectedUpdatedAt`: change the row only if it is still that version (an If-Match that held). */
export async function updateAgent(
  db: Executor,
  id: string,
  teamIds: readonly string[],
  changes: AgentRowUpdate,
  expectedUpdatedAt?: string | null,
): Promise<AgentRow | undefined> {
  if (teamIds.length === 0) return undefined;
  let query = db.updateTable('agents').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return query.returning(agentColumns).executeTakeFirst();
}

export async function deleteAgent(db: Executor, id: string, teamIds: readonly string[], expectedUpdatedAt?: string | null): Promise<{ team_id: string } | undefined> {
  if (teamIds.length === 0) return undefined;
  let query = db.deleteFrom('agents').where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return query.returning('team_id').executeTakeFirst();
}

/**
 * The matching agents counted by status, and how many distinct groups hold at least one of them: one
 * statement (the filtered agents are a CTE read twice). No row when nothing matches.
 */
export async function summarizeAgents(db: Executor, filter: AgentFilter) {
  return db
    .with('matched', (qc) => agentsMatching(qc, filter).select(['id', 'status']))
    .selectFrom('matched')
    .select([
      'status',
      sql<number>`count(*)::int`.as('n'),
      sql<number>`(select count(distinct m.group_id)::int from agent_group_members m join matched a on a.id = m.agent_id)`.as('groups'),
    ])
    .groupBy('status')
    .execute();
}

/** Agents counted by status and platform. */
export async function countByStatusAndPlatform(db: Executor, teamIds: readonly string[], groupId?: string) {
  const query = inTeams(db, teamIds);
  return (groupId ? query.where(inGroup(groupId)) : query).select(['status', 'platform', sql<number>`count(*)::int`.as('n')]).groupBy(['status', 'platform']).execute();
}
