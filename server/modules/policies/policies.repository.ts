// Thin Kysely queries for security policies, with explicit columns, every one scoped to the caller's teams; and the
// lookups enforcement makes (the command policies that apply to some agents of a team).
import { sql, type RawBuilder } from 'kysely';
import type { components } from '../../../generated/openapi.d.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { onlyTeams } from '../../db/team-scope.ts';

type Schemas = components['schemas'];

export const SORTABLE_FIELDS = ['name', 'created_at', 'updated_at'] as const;
export type PolicySortField = (typeof SORTABLE_FIELDS)[number];

export interface PolicyFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  groupId?: string | undefined;
  kind?: Schemas['PolicyKind'] | undefined;
}

const columns = ['id', 'team_id', 'group_id', 'name', 'description', 'kind', 'rules', 'version', 'created_at', 'updated_at'] as const;

/** Names sort regardless of case, as they are unique regardless of case. */
const sortExpression = (field: PolicySortField | 'id'): RawBuilder<unknown> => (field === 'name' ? sql`lower(name)` : sql.ref(field));

const inTeams = (db: Executor, teamIds: readonly string[]) => db.selectFrom('config_policies').$call(onlyTeams(teamIds));

function filtered(db: Executor, filter: PolicyFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.groupId) query = query.where('group_id', '=', filter.groupId);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  return query;
}

export const listPolicies = (db: Executor, filter: PolicyFilter, keys: SortKey<PolicySortField>[], window: Window) =>
  pageOf(filtered(db, filter).select(columns), keys, window, sortExpression).execute();

export type PolicyRow = Awaited<ReturnType<typeof listPolicies>>[number];

export async function countPolicies(db: Executor, filter: PolicyFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findPolicy = (db: Executor, id: string, teamIds: readonly string[]): Promise<PolicyRow | undefined> =>
  inTeams(db, teamIds).select(columns).where('id', '=', id).executeTakeFirst();

export async function insertPolicy(
  db: Executor,
  row: { id: string; team_id: string; group_id: string | null; name: string; description: string | null; rules: Schemas['PolicyRules'] },
): Promise<void> {
  await db
    .insertInto('config_policies')
    .values({ ...row, kind: row.rules.kind, rules: JSON.stringify(row.rules) })
    .execute();
}

export interface PolicyChanges {
  name?: string;
  description?: string | null;
  group_id?: string | null;
  rules?: Schemas['PolicyRules'];
}

/** Applies the changes as the next version; `expectedUpdatedAt`: only if it is still that version (an If-Match that held). */
export async function updatePolicy(db: Executor, id: string, teamIds: readonly string[], changes: PolicyChanges, expectedUpdatedAt: string | null): Promise<boolean> {
  if (teamIds.length === 0) return false;
  const { rules, ...rest } = changes;
  let query = db
    .updateTable('config_policies')
    .set({ ...rest, ...(rules ? { rules: JSON.stringify(rules), kind: rules.kind } : {}), version: sql`version + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numUpdatedRows > 0n;
}

export async function deletePolicy(db: Executor, id: string, teamIds: readonly string[], expectedUpdatedAt: string | null): Promise<boolean> {
  if (teamIds.length === 0) return false;
  let query = db.deleteFrom('config_policies').where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numDeletedRows > 0n;
}

/**
 * The `allowed_commands` policies of `teamId` that apply to any of `agentIds` (on the team, or on a group one of
 * them belongs to), by name then id: one indexed query.
 */
export const commandPolicies = (db: Executor, teamId: string, agentIds: readonly string[]) =>
  db
    .selectFrom('config_policies')
    .select(['id', 'name', 'rules'])
    .where('team_id', '=', teamId)
    .where('kind', '=', 'allowed_commands')
    .where((eb) =>
      eb.or([
        eb('group_id', 'is', null),
        eb('group_id', 'in', eb.selectFrom('agent_group_members').select('group_id').where('agent_id', '=', eb.fn.any(sql<string[]>`${[...agentIds]}::uuid[]`))),
      ]),
    )
    .orderBy(sql`lower(name)`)
    .orderBy('id')
    .execute();
