// Thin Kysely queries for dashboards, with explicit columns, every one scoped to the caller's teams.
import { sql, type RawBuilder } from 'kysely';
import type { components } from '../../../generated/openapi.d.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { onlyTeams } from '../../db/team-scope.ts';

type Schemas = components['schemas'];

export const SORTABLE_FIELDS = ['name', 'created_at', 'updated_at'] as const;
export type DashboardSortField = (typeof SORTABLE_FIELDS)[number];

export interface DashboardFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  search?: string | undefined;
}

const columns = ['id', 'team_id', 'name', 'description', 'panels', 'version', 'created_at', 'updated_at'] as const;

/** Names sort regardless of case, as they are unique regardless of case. */
const sortExpression = (field: DashboardSortField | 'id'): RawBuilder<unknown> => (field === 'name' ? sql`lower(name)` : sql.ref(field));

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

const inTeams = (db: Executor, teamIds: readonly string[]) => db.selectFrom('dashboards').$call(onlyTeams(teamIds));

function filtered(db: Executor, filter: DashboardFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.search) query = query.where('name', 'ilike', `%${escapeLike(filter.search)}%`);
  return query;
}

export const listDashboards = (db: Executor, filter: DashboardFilter, keys: SortKey<DashboardSortField>[], window: Window) =>
  pageOf(filtered(db, filter).select(columns), keys, window, sortExpression).execute();

export type DashboardRow = Awaited<ReturnType<typeof listDashboards>>[number];

export async function countDashboards(db: Executor, filter: DashboardFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findDashboard = (db: Executor, id: string, teamIds: readonly string[]): Promise<DashboardRow | undefined> =>
  inTeams(db, teamIds).select(columns).where('id', '=', id).executeTakeFirst();

export async function insertDashboard(
  db: Executor,
  row: { id: string; team_id: string; name: string; description: string | null; panels: readonly Schemas['DashboardPanel'][] },
): Promise<void> {
  await db
    .insertInto('dashboards')
    .values({ ...row, panels: JSON.stringify(row.panels) })
    .execute();
}

export interface DashboardChanges {
  name?: string;
  description?: string | null;
  panels?: readonly Schemas['DashboardPanel'][];
}

/** Applies the changes as the next version; `expectedUpdatedAt`: only if it is still that version (an If-Match that held). */
export async function updateDashboard(db: Executor, id: string, teamIds: readonly string[], changes: DashboardChanges, expectedUpdatedAt: string | null): Promise<boolean> {
  if (teamIds.length === 0) return false;
  const { panels, ...rest } = changes;
  let query = db
    .updateTable('dashboards')
    .set({ ...rest, ...(panels ? { panels: JSON.stringify(panels) } : {}), version: sql`version + 1`, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numUpdatedRows > 0n;
}

export async function deleteDashboard(db: Executor, id: string, teamIds: readonly string[], expectedUpdatedAt: string | null): Promise<boolean> {
  if (teamIds.length === 0) return false;
  let query = db.deleteFrom('dashboards').where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numDeletedRows > 0n;
}
