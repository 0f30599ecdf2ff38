// Thin Kysely queries for pipelines and their runs, with explicit columns, scoped to the caller's teams.
// The bulk update is one statement: it locks the rows the filter matches, changes those whose value
// differs, counts the first and answers the second, so `matched`, `updated` and the events of the changed
// pipelines describe exactly what that statement did.
import { sql, type Insertable, type RawBuilder } from 'kysely';
import type { PipelineRow, PipelineRowUpdate, PipelineRunRow, PipelineRunsTable, PipelinesTable } from '../../db/schema.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { onlyTeams } from '../../db/team-scope.ts';

export const SORTABLE_FIELDS = ['name', 'status', 'created_at', 'updated_at'] as const;
export type PipelineSortField = (typeof SORTABLE_FIELDS)[number];

export interface PipelineFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  status?: PipelineRow['status'] | undefined;
  search?: string | undefined;
}

const columns = ['id', 'team_id', 'name', 'repository', 'branch', 'status', 'last_run_status', 'created_at', 'updated_at'] as const;
const runColumns = ['id', 'pipeline_id', 'team_id', 'number', 'status', 'commit_sha', 'started_at', 'finished_at', 'duration_seconds', 'created_by', 'created_at'] as const;

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);
const sortExpression = (field: PipelineSortField | 'id'): RawBuilder<unknown> => sql.ref(field);

const inTeams = (db: Executor, teamIds: readonly string[]) => db.selectFrom('pipelines').$call(onlyTeams(teamIds));

function filtered(db: Executor, filter: PipelineFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.search) {
    const term = `%${escapeLike(filter.search)}%`;
    query = query.where((eb) => eb.or([eb('name', 'ilike', term), eb('repository', 'ilike', term)]));
  }
  return query;
}

export const listPipelines = (db: Executor, filter: PipelineFilter, keys: SortKey<PipelineSortField>[], window: Window): Promise<PipelineRow[]> =>
  pageOf(filtered(db, filter).select(columns), keys, window, sortExpression).execute();

export async function countPipelines(db: Executor, filter: PipelineFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findPipeline = (db: Executor, id: string, teamIds: readonly string[]): Promise<PipelineRow | undefined> =>
  inTeams(db, teamIds).select(columns).where('id', '=', id).executeTakeFirst();

/** One of the caller's pipelines, locked for the rest of the transaction (run numbers are taken under it). */
export const lockPipeline = (db: Executor, id: string, teamIds: readonly string[]): Promise<PipelineRow | undefined> =>
  inTeams(db, teamIds).select(columns).where('id', '=', id).forUpdate().executeTakeFirst();

export const insertPipeline = (db: Executor, row: Insertable<PipelinesTable>): Promise<PipelineRow> =>
  db.insertInto('pipelines').values(row).returning(columns).executeTakeFirstOrThrow();

/** `expectedUpdatedAt`: change the row only if it is still that version (an If-Match that held). */
export async function updatePipeline(
  db: Executor,
  id: string,
  teamIds: readonly string[],
  changes: PipelineRowUpdate,
  expectedUpdatedAt?: string | null,
): Promise<PipelineRow | undefined> {
  if (teamIds.length === 0) return undefined;
  let query = db.updateTable('pipelines').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return query.returning(columns).executeTakeFirst();
}

export async function deletePipeline(db: Executor, id: string, teamIds: readonly string[], expectedUpdatedAt?: string | null): Promise<boolean> {
  if (teamIds.length === 0) return false;
  let query = db.deleteFrom('pipelines').where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numDeletedRows > 0n;
}

export interface BulkFilter {
  status?: PipelineRow['status'] | undefined;
  teamId?: string | undefined;
  nameContains?: string | undefined;
}

/** Sets `status` on every pipeline of `teamIds` the filter matches, in one statement; answers how many matched and the rows it changed. */
export async function bulkSetStatus(db: Executor, teamIds: readonly string[], filter: BulkFilter, status: PipelineRow['status']): Promise<{ matched: number; changed: PipelineRow[] }> {
  if (teamIds.length === 0) return { matched: 0, changed: [] };
  const conditions = [sql`team_id in (${sql.join(teamIds)})`];
  if (filter.teamId !== undefined) conditions.push(sql`team_id = ${filter.teamId}`);
  if (filter.status !== undefined) conditions.push(sql`status = ${filter.status}`);
  if (filter.nameContains !== undefined) conditions.push(sql`name ilike ${`%${escapeLike(filter.nameContains)}%`}`);
  // One row per changed pipeline, each with the count matched; a single row of nulls beside it when none changed.
  const { rows } = await sql<{ matched: number } & { [K in keyof PipelineRow]: PipelineRow[K] | null }>`
    with matched as (
      select id, status from pipelines where ${sql.join(conditions, sql` and `)} for update
    ), changed as (
      update pipelines as p set status = ${status}, updated_at = now()
      from matched as m
      where p.id = m.id and m.status <> ${status}
      returning ${sql.join(columns.map((c) => sql.ref(`p.${c}`)))}
    )
    select (select count(*) from matched)::int as matched, c.* from (select 1) as one left join changed as c on true`.execute(db);
  return { matched: rows[0]!.matched, changed: rows.flatMap(({ matched: _, ...row }) => (row.id === null ? [] : [row as PipelineRow])) };
}

// --- runs

export const RUN_SORTABLE_FIELDS = ['number'] as const;

const runsOf = (db: Executor, pipelineId: string, status: PipelineRunRow['status'] | undefined) => {
  const query = db.selectFrom('pipeline_runs').where('pipeline_id', '=', pipelineId);
  return status ? query.where('status', '=', status) : query;
};

export const listRuns = (db: Executor, pipelineId: string, status: PipelineRunRow['status'] | undefined, keys: SortKey<'number'>[], window: Window): Promise<PipelineRunRow[]> =>
  pageOf(runsOf(db, pipelineId, status).select(runColumns), keys, window, (field) => sql.ref(field)).execute();

export async function countRuns(db: Executor, pipelineId: string, status: PipelineRunRow['status'] | undefined): Promise<number> {
  return (await runsOf(db, pipelineId, status).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findRun = (db: Executor, pipelineId: string, runId: string): Promise<PipelineRunRow | undefined> =>
  db.selectFrom('pipeline_runs').select(runColumns).where('pipeline_id', '=', pipelineId).where('id', '=', runId).executeTakeFirst();

export const lockRun = (db: Executor, pipelineId: string, runId: string): Promise<PipelineRunRow | undefined> =>
  db.selectFrom('pipeline_runs').select(runColumns).where('pipeline_id', '=', pipelineId).where('id', '=', runId).forUpdate().executeTakeFirst();

/** The next number of a pipeline's runs; call with the pipeline locked. */
export async function nextRunNumber(db: Executor, pipelineId: string): Promise<number> {
  return (await db.selectFrom('pipeline_runs').select(sql<number>`coalesce(max(number), 0)::int + 1`.as('n')).where('pipeline_id', '=', pipelineId).executeTakeFirstOrThrow()).n;
}

export const insertRun = (db: Executor, row: Insertable<PipelineRunsTable>): Promise<PipelineRunRow> =>
  db.insertInto('pipeline_runs').values(row).returning(runColumns).executeTakeFirstOrThrow();

/** Moves a run to a status, with the timings that go with it. */
export function setRunStatus(db: Executor, runId: string, status: PipelineRunRow['status']): Promise<PipelineRunRow> {
  const timings =
    status === 'running'
      ? { started_at: sql<Date>`now()` }
      : {
          finished_at: sql<Date>`now()`,
          duration_seconds: sql<number | null>`floor(extract(epoch from (now() - started_at)))::int`,
        };
  return db.updateTable('pipeline_runs').set({ status, ...timings }).where('id', '=', runId).returning(runColumns).executeTakeFirstOrThrow();
}

/** The pipeline's `last_run_status` follows its latest run: set it when `number` is the latest. */
export async function followLatestRun(db: Executor, pipelineId: string, number: number, status: PipelineRunRow['status']): Promise<void> {
  await db
    .updateTable('pipelines')
    .set({ last_run_status: status, updated_at: sql`now()` })
    .where('id', '=', pipelineId)
    .where(sql<boolean>`${number} = (select max(number) from pipeline_runs where pipeline_id = ${pipelineId})`)
    .execute();
}
