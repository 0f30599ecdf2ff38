// Tasks and their log lines. Claims take an agent's oldest pending tasks with `FOR UPDATE SKIP LOCKED`,
// so concurrent claimers (in any number of processes) never take the same task twice.
import { sql, type RawBuilder } from 'kysely';
import type { TaskLogRow, TaskRow, TasksTable } from '../../db/schema.ts';
import type { Insertable } from 'kysely';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { createdWithin, onlyTeams } from '../../db/team-scope.ts';

export const SORTABLE_FIELDS = ['created_at', 'updated_at'] as const;
export type TaskSortField = (typeof SORTABLE_FIELDS)[number];

export interface TaskFilter {
  teamIds: readonly string[];
  status?: TaskRow['status'] | undefined;
  type?: TaskRow['type'] | undefined;
  agentId?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
}

const sortExpression = (field: TaskSortField | 'id'): RawBuilder<unknown> => sql.ref(field);

const inTeams = (db: Executor, teamIds: readonly string[]) => db.selectFrom('tasks').$call(onlyTeams(teamIds));

function filtered(db: Executor, filter: TaskFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.type) query = query.where('type', '=', filter.type);
  if (filter.agentId) query = query.where('agent_id', '=', filter.agentId);
  query = query.$call(createdWithin(filter.createdAfter, filter.createdBefore));
  return query;
}

export const listTasks = (db: Executor, filter: TaskFilter, keys: SortKey<TaskSortField>[], window: Window): Promise<TaskRow[]> =>
  pageOf(filtered(db, filter).selectAll(), keys, window, sortExpression).execute();

export async function countTasks(db: Executor, filter: TaskFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findTask = (db: Executor, id: string, teamIds: readonly string[]): Promise<TaskRow | undefined> =>
  inTeams(db, teamIds).selectAll().where('id', '=', id).executeTakeFirst();

/** A task of one agent, locked for the rest of the transaction. */
export const lockAgentTask = (db: Executor, id: string, agentId: string): Promise<TaskRow | undefined> =>
  db.selectFrom('tasks').selectAll().where('id', '=', id).where('agent_id', '=', agentId).forUpdate().executeTakeFirst();

export const insertTask = (db: Executor, row: Insertable<TasksTable>): Promise<TaskRow> =>
  db.insertInto('tasks').values(row).returningAll().executeTakeFirstOrThrow();

export async function claimTasks(db: Executor, agentId: string, max: number): Promise<TaskRow[]> {
  const claimed = await db
    .updateTable('tasks')
    .set({ status: 'running', started_at: sql`now()`, updated_at: sql`now()` })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('tasks')
        .select('id')
        .where('agent_id', '=', agentId)
        .where('status', '=', 'pending')
        .orderBy('created_at')
        .orderBy('id')
        .limit(max)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute();
  return claimed.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1));
}

export interface TaskChanges {
  status?: TaskRow['status'];
  progress?: number;
  eta?: Date | null;
  result?: string | null;
  error?: string | null;
  finished?: boolean;
}

export const updateTask = (db: Executor, id: string, changes: TaskChanges): Promise<TaskRow> => {
  const { finished, ...columns } = changes;
  return db
    .updateTable('tasks')
    .set({ ...columns, updated_at: sql`now()`, ...(finished ? { finished_at: sql`now()` } : {}) })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
};

/** Fails the running tasks of agents silent since `silentSince`; answers how many. */
export async function failTasksOfSilentAgents(db: Executor, silentSince: Date): Promise<TaskRow[]> {
  return db
    .updateTable('tasks')
    .set({ status: 'failed', error: 'agent stopped heartbeating', updated_at: sql`now()`, finished_at: sql`now()` })
    .where('status', '=', 'running')
    .where('agent_id', 'in', (eb) =>
      eb.selectFrom('agents').select('id').where((w) => w.or([w('last_seen', '<', silentSince), w('last_seen', 'is', null)])),
    )
    .returningAll()
    .execute();
}

export async function appendLogs(db: Executor, taskId: string, lines: readonly string[], newId: () => string): Promise<void> {
  if (lines.length === 0) return;
  const last = await db.selectFrom('task_logs').select(sql<number>`coalesce(max(seq), 0)::int`.as('seq')).where('task_id', '=', taskId).executeTakeFirstOrThrow();
  await db
    .insertInto('task_logs')
    .values(lines.map((line, i) => ({ id: newId(), task_id: taskId, seq: last.seq + i + 1, line })))
    .execute();
}

export const listLogs = (db: Executor, taskId: string, keys: SortKey<'seq'>[], window: Window): Promise<TaskLogRow[]> =>
  pageOf(db.selectFrom('task_logs').selectAll().where('task_id', '=', taskId), keys, window, (field) => sql.ref(field)).execute();

export async function countLogs(db: Executor, taskId: string): Promise<number> {
  return (await db.selectFrom('task_logs').select(sql<number>`count(*)::int`.as('n')).where('task_id', '=', taskId).executeTakeFirstOrThrow()).n;
}
