// Thin Kysely queries for deployments, with explicit columns, scoped to the caller's teams. Status changes
// set their timings in SQL (`now()`), so the times are the database's, not each process's clock.
import { sql, type RawBuilder } from 'kysely';
import type { DeploymentRow, DeploymentsTable } from '../../db/schema.ts';
import type { Insertable } from 'kysely';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { createdWithin, onlyTeams } from '../../db/team-scope.ts';

export const SORTABLE_FIELDS = ['created_at', 'updated_at'] as const;
export type DeploymentSortField = (typeof SORTABLE_FIELDS)[number];

export interface DeploymentFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  environment?: DeploymentRow['environment'] | undefined;
  status?: DeploymentRow['status'] | undefined;
  service?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
}

const columns = [
  'id',
  'team_id',
  'service',
  'version',
  'environment',
  'status',
  'previous_version',
  'rollback_of',
  'reason',
  'requested_by',
  'started_at',
  'finished_at',
  'duration_seconds',
  'created_by',
  'created_at',
  'updated_at',
] as const;

const sortExpression = (field: DeploymentSortField | 'id'): RawBuilder<unknown> => sql.ref(field);

const inTeams = (db: Executor, teamIds: readonly string[]) => db.selectFrom('deployments').$call(onlyTeams(teamIds));

function filtered(db: Executor, filter: DeploymentFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.environment) query = query.where('environment', '=', filter.environment);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.service) query = query.where('service', '=', filter.service);
  query = query.$call(createdWithin(filter.createdAfter, filter.createdBefore));
  return query;
}

export const listDeployments = (db: Executor, filter: DeploymentFilter, keys: SortKey<DeploymentSortField>[], window: Window): Promise<DeploymentRow[]> =>
  pageOf(filtered(db, filter).select(columns), keys, window, sortExpression).execute();

export async function countDeployments(db: Executor, filter: DeploymentFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findDeployment = (db: Executor, id: string, teamIds: readonly string[]): Promise<DeploymentRow | undefined> =>
  inTeams(db, teamIds).select(columns).where('id', '=', id).executeTakeFirst();

/** One of the caller's deployments, locked for the rest of the transaction. */
export const lockDeployment = (db: Executor, id: string, teamIds: readonly string[]): Promise<DeploymentRow | undefined> =>
  inTeams(db, teamIds).select(columns).where('id', '=', id).forUpdate().executeTakeFirst();

/** The version of the last deployment of a service to an environment that succeeded, if any. */
export async function liveVersion(db: Executor, teamId: string, service: string, environment: DeploymentRow['environment']): Promise<string | null> {
  const row = await db
    .selectFrom('deployments')
    .select('version')
    .where('team_id', '=', teamId)
    .where('service', '=', service)
    .where('environment', '=', environment)
    .where('status', '=', 'succeeded')
    .orderBy('finished_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.version ?? null;
}

/** A rollback of the deployment that is still pending or running, if any. */
export const activeRollbackOf = (db: Executor, id: string): Promise<{ id: string } | undefined> =>
  db.selectFrom('deployments').select('id').where('rollback_of', '=', id).where('status', 'in', ['pending', 'running']).executeTakeFirst();

export const insertDeployment = (db: Executor, row: Insertable<DeploymentsTable>): Promise<DeploymentRow> =>
  db.insertInto('deployments').values(row).returning(columns).executeTakeFirstOrThrow();

/** Moves a deployment to a status, with the timings that go with it. */
export function setStatus(db: Executor, id: string, status: DeploymentRow['status']): Promise<DeploymentRow> {
  const timings =
    status === 'running'
      ? { started_at: sql<Date>`now()` }
      : status === 'succeeded' || status === 'failed'
        ? {
            finished_at: sql<Date>`now()`,
            duration_seconds: sql<number | null>`floor(extract(epoch from (now() - started_at)))::int`,
          }
        : {};
  return db
    .updateTable('deployments')
    .set({ status, ...timings, updated_at: sql`now()` })
    .where('id', '=', id)
    .returning(columns)
    .executeTakeFirstOrThrow();
}

/** The deployment a succeeded rollback replaced turns `rolled_back` (only from succeeded or failed). */
/** The deployment a successful rollback replaced becomes `rolled_back`; answers it, if it changed. */
export const markRolledBack = (db: Executor, id: string): Promise<DeploymentRow | undefined> =>
  db
    .updateTable('deployments')
    .set({ status: 'rolled_back', updated_at: sql`now()` })
    .where('id', '=', id)
    .where('status', 'in', ['succeeded', 'failed'])
    .returningAll()
    .executeTakeFirst();
