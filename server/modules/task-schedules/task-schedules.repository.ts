// Thin Kysely queries for task schedules and their executions, with explicit columns. Reads of a schedule are
// scoped to the caller's teams; executions are reached through their schedule. The scheduler's queries (`lockDue`,
// `insertExecution`, `advance`) run in the one transaction per due schedule that the scheduler opens.
import { sql, type RawBuilder } from 'kysely';
import type { TaskScheduleExecutionRow, TaskScheduleRow } from '../../db/schema.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { onlyTeams } from '../../db/team-scope.ts';

export const SORTABLE_FIELDS = ['name', 'created_at'] as const;
export type TaskScheduleSortField = (typeof SORTABLE_FIELDS)[number];
export const EXECUTION_SORTABLE_FIELDS = ['due_at'] as const;
export type ExecutionSortField = (typeof EXECUTION_SORTABLE_FIELDS)[number];

const executionColumns = ['id', 'schedule_id', 'due_at', 'fired_at', 'task_id', 'status', 'missed', 'error'] as const;

/** The latest execution (by due time) of each schedule, as one JSON value, beside the schedule's own columns. */
const lastExecution = sql<TaskScheduleExecutionJson | null>`(
  select to_jsonb(e) from (
    select ${sql.join(executionColumns.map((c) => sql.ref(`x.${c}`)))} from task_schedule_executions x
    where x.schedule_id = task_schedules.id order by x.due_at desc limit 1
  ) e)`.as('last_execution');

const scheduleColumns = [
  'id',
  'team_id',
  'name',
  'description',
  'cron',
  'timezone',
  'enabled',
  'missed_runs',
  'run',
  'next_due_at',
  'created_by',
  'created_at',
  'updated_at',
] as const;

/** An execution as `to_jsonb` spells it: times are strings. */
export type TaskScheduleExecutionJson = Omit<TaskScheduleExecutionRow, 'due_at' | 'fired_at'> & { due_at: string; fired_at: string };
export type TaskScheduleWithLast = TaskScheduleRow & { last_execution: TaskScheduleExecutionJson | null };

export interface TaskScheduleFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  enabled?: boolean | undefined;
}

/** Names sort regardless of case, as they are unique regardless of case. */
const sortExpression = (field: TaskScheduleSortField | 'id'): RawBuilder<unknown> => (field === 'name' ? sql`lower(name)` : sql.ref(field));

const inTeams = (db: Executor, teamIds: readonly string[]) => db.selectFrom('task_schedules').$call(onlyTeams(teamIds));

function filtered(db: Executor, filter: TaskScheduleFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.enabled !== undefined) query = query.where('enabled', '=', filter.enabled);
  return query;
}

export const listSchedules = (db: Executor, filter: TaskScheduleFilter, keys: SortKey<TaskScheduleSortField>[], window: Window): Promise<TaskScheduleWithLast[]> =>
  pageOf(filtered(db, filter).select([...scheduleColumns, lastExecution]), keys, window, sortExpression).execute();

export async function countSchedules(db: Executor, filter: TaskScheduleFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findSchedule = (db: Executor, id: string, teamIds: readonly string[]): Promise<TaskScheduleWithLast | undefined> =>
  inTeams(db, teamIds).select([...scheduleColumns, lastExecution]).where('id', '=', id).executeTakeFirst();

export interface NewSchedule {
  id: string;
  team_id: string;
  name: string;
  description: string | null;
  cron: string;
  timezone: string;
  enabled: boolean;
  missed_runs: TaskScheduleRow['missed_runs'];
  run: string;
  next_due_at: Date | null;
  created_by: string | null;
}

export async function insertSchedule(db: Executor, row: NewSchedule): Promise<void> {
  await db.insertInto('task_schedules').values(row).execute();
}

export type ScheduleChanges = Partial<Omit<NewSchedule, 'id' | 'team_id' | 'created_by'>>;

/** `expectedUpdatedAt`: change the schedule only if it is still that version (an If-Match that held). */
export async function updateSchedule(db: Executor, id: string, teamIds: readonly string[], changes: ScheduleChanges, expectedUpdatedAt: string | null): Promise<boolean> {
  if (teamIds.length === 0) return false;
  let query = db.updateTable('task_schedules').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numUpdatedRows > 0n;
}

/** Deletes the schedule (its executions cascade); answers whether a row matched. */
export async function deleteSchedule(db: Executor, id: string, teamIds: readonly string[], expectedUpdatedAt: string | null): Promise<boolean> {
  if (teamIds.length === 0) return false;
  let query = db.deleteFrom('task_schedules').where('id', '=', id).where('team_id', 'in', teamIds);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numDeletedRows > 0n;
}

export interface ExecutionFilter {
  scheduleId: string;
  status?: TaskScheduleExecutionRow['status'] | undefined;
}

function executionsOf(db: Executor, filter: ExecutionFilter) {
  let query = db.selectFrom('task_schedule_executions').where('schedule_id', '=', filter.scheduleId);
  if (filter.status) query = query.where('status', '=', filter.status);
  return query;
}

export const listExecutions = (db: Executor, filter: ExecutionFilter, keys: SortKey<ExecutionSortField>[], window: Window): Promise<TaskScheduleExecutionRow[]> =>
  pageOf(executionsOf(db, filter).select(executionColumns), keys, window, (field) => sql.ref(field)).execute();

export async function countExecutions(db: Executor, filter: ExecutionFilter): Promise<number> {
  return (await executionsOf(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

// ---- the scheduler ----

/**
 * One enabled schedule whose due time has come, locked for the rest of the transaction; rows another process
 * holds are skipped (SKIP LOCKED), so processes share the due schedules instead of waiting on each other. Under
 * READ COMMITTED a row another process advanced meanwhile is read again and no longer qualifies.
 */
/** The schedule's creator as the scheduler checks it before acting in its name: whether active, its role, whether a member of the team. */
export async function creatorOf(db: Executor, userId: string, teamId: string): Promise<{ active: boolean; role: TaskScheduleCreatorRole; member: boolean } | undefined> {
  const row = await db
    .selectFrom('users')
    .select(['active', 'role'])
    .select((eb) => eb.exists(eb.selectFrom('team_members').select('user_id').where('team_members.user_id', '=', userId).where('team_members.team_id', '=', teamId)).as('member'))
    .where('id', '=', userId)
    .executeTakeFirst();
  return row && { active: row.active, role: row.role, member: Boolean(row.member) };
}
export type TaskScheduleCreatorRole = import('../../db/schema.ts').UsersTable['role'];

export const lockDue = (db: Executor, now: Date): Promise<TaskScheduleRow | undefined> =>
  db
    .selectFrom('task_schedules')
    .select(scheduleColumns)
    .where('enabled', '=', true)
    .where('next_due_at', '<=', now)
    .orderBy('next_due_at')
    .limit(1)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();

/** Records a due time; `false` when it already has its execution (UNIQUE (schedule_id, due_at)). */
export async function insertExecution(
  db: Executor,
  row: { id: string; schedule_id: string; due_at: Date; status: TaskScheduleExecutionRow['status']; missed: boolean },
): Promise<boolean> {
  const inserted = await db
    .insertInto('task_schedule_executions')
    .values(row)
    .onConflict((oc) => oc.columns(['schedule_id', 'due_at']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** What came of a firing: the task it created, or why none was. */
export async function settleExecution(db: Executor, id: string, outcome: { task_id: string } | { error: string }): Promise<void> {
  const changes = 'task_id' in outcome ? { task_id: outcome.task_id } : { status: 'failed' as const, error: outcome.error.slice(0, 1000) };
  await db.updateTable('task_schedule_executions').set(changes).where('id', '=', id).execute();
}

/**
 * The next due time the schedule waits for. A firing changes what the schedule shows (`next_runs`, `last_execution`),
 * so it moves `updated_at` too: Last-Modified and an If-Match taken before the firing follow it.
 */
export async function advance(db: Executor, id: string, nextDueAt: Date | null): Promise<void> {
  await db.updateTable('task_schedules').set({ next_due_at: nextDueAt, updated_at: sql`now()` }).where('id', '=', id).execute();
}
