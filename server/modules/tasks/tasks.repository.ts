// Tasks and their log lines. Claims take an agent's oldest pending tasks with `FOR UPDATE SKIP LOCKED`,
// so concurrent claimers (in any number of processes) never take the same task twice. A fleet task's children
// are written in one statement (arrays through `unnest`), and its counts move under its row lock.
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
  kind?: TaskRow['kind'] | undefined;
  parentId?: string | undefined;
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
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.parentId) query = query.where('parent_id', '=', filter.parentId);
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

/** A task, locked for the rest of the transaction (a fleet task, while its counts move). */
export const lockTask = (db: Executor, id: string): Promise<TaskRow> => db.selectFrom('tasks').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();

/** A task of one agent, locked for the rest of the transaction. */
export const lockAgentTask = (db: Executor, id: string, agentId: string): Promise<TaskRow | undefined> =>
  db.selectFrom('tasks').selectAll().where('id', '=', id).where('agent_id', '=', agentId).forUpdate().executeTakeFirst();

export const insertTask = (db: Executor, row: Insertable<TasksTable>): Promise<TaskRow> =>
  db.insertInto('tasks').values(row).returningAll().executeTakeFirstOrThrow();

/**
 * Claims the agent's oldest claimable tasks (pending, not held back by a fleet task's rollout), and moves them
 * from pending to running in their fleet tasks' counts (a fleet task runs from its first claim): one statement.
 */
export async function claimTasks(db: Executor, agentId: string, max: number): Promise<TaskRow[]> {
  // The agent's max_task_concurrency policies (its team's, on the team or one of its groups; the smallest
  // applies) cap the claim at that many minus the tasks it is already running. Its running tasks are counted only
  // when a policy applies; both lookups are indexed and part of this one statement.
  const { rows } = await sql<TaskRow>`
    with cap as (
      select min((p.rules->>'max')::int) as max
        from config_policies p
       where p.kind = 'max_task_concurrency'
         and p.team_id = (select team_id from agents where id = ${agentId})
         and (p.group_id is null or p.group_id in (select group_id from agent_group_members where agent_id = ${agentId}))),
    claimed as (
      update tasks set status = 'running', started_at = now(), updated_at = now()
       where id in (select id from tasks
                     where agent_id = ${agentId} and status = 'pending' and not held
                     order by created_at, id
                     limit (select case when cap.max is null then ${max}::int
                                        else least(${max}::int, greatest(0, cap.max - (select count(*)::int from tasks r where r.agent_id = ${agentId} and r.status = 'running')))
                                   end from cap)
                       for update skip locked)
      returning *),
    parents as (
      update tasks p
         set fleet_pending = p.fleet_pending - c.n, fleet_running = p.fleet_running + c.n,
             status = case when p.status = 'pending' then 'running' else p.status end,
             started_at = coalesce(p.started_at, now()), updated_at = now()
        from (select parent_id, count(*)::int as n from claimed where parent_id is not null group by parent_id) c
       where p.id = c.parent_id)
    select * from claimed order by created_at, id`.execute(db);
  return rows;
}

export interface TaskChanges {
  status?: TaskRow['status'];
  held?: boolean;
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

/** A child of a fleet task to write: its agent, and whether it waits its turn or is skipped (cancelled at once). */
export interface NewChild {
  id: string;
  agent_id: string;
  held: boolean;
  skipped: boolean;
  queued_offline: boolean;
}

/** Writes a fleet task's children in one statement, each a copy of the parent's action; answers them. */
export async function insertChildren(db: Executor, parent: TaskRow, children: readonly NewChild[], skippedError: string): Promise<TaskRow[]> {
  const column = <K extends keyof NewChild>(key: K) => children.map((child) => child[key]);
  const { rows } = await sql<TaskRow>`
    insert into tasks (id, team_id, agent_id, kind, parent_id, type, parameters, template_id, template_version, queued_offline,
                       created_by, held, status, error, finished_at)
    select c.id, ${parent.team_id}, c.agent_id, 'agent', ${parent.id}, ${parent.type}, ${JSON.stringify(parent.parameters)}::jsonb,
           ${parent.template_id}::uuid, ${parent.template_version}::int, c.queued_offline, ${parent.created_by}::uuid, c.held,
           case when c.skipped then 'cancelled' else 'pending' end,
           case when c.skipped then ${skippedError} end,
           case when c.skipped then now() end
      from unnest(${column('id')}::uuid[], ${column('agent_id')}::uuid[], ${column('held')}::boolean[], ${column('skipped')}::boolean[],
                  ${column('queued_offline')}::boolean[]) with ordinality as c(id, agent_id, held, skipped, queued_offline, n)
     order by c.n
    returning *`.execute(db);
  return rows;
}

/** Lets up to `n` held children of a fleet task go (claimable), oldest first. */
export async function releaseHeld(db: Executor, parentId: string, n: number): Promise<void> {
  if (n <= 0) return;
  await sql`
    update tasks set held = false, updated_at = now()
     where id in (select id from tasks where parent_id = ${parentId} and held and status = 'pending'
                   order by created_at, id limit ${n} for update skip locked)`.execute(db);
}

/**
 * Cancels a fleet task's children that have not started (held or claimable, not claimed), skipping any another
 * transaction holds (it is about to claim or end it, and the parent's counts follow it then); answers them.
 */
export async function cancelUnstarted(db: Executor, parentId: string, error: string): Promise<TaskRow[]> {
  const { rows } = await sql<TaskRow>`
    update tasks set status = 'cancelled', held = false, error = ${error}, updated_at = now(), finished_at = now()
     where id in (select id from tasks where parent_id = ${parentId} and status = 'pending' for update skip locked)
    returning *`.execute(db);
  return rows;
}

/** Cancels the agent's unfinished children of fleet tasks; answers each with its status and hold before. */
export async function cancelChildrenOfAgent(db: Executor, agentId: string, error: string): Promise<Array<{ before: Pick<TaskRow, 'status' | 'held'>; after: TaskRow }>> {
  const { rows } = await sql<TaskRow & { before_status: TaskRow['status']; before_held: boolean }>`
    update tasks t set status = 'cancelled', held = false, error = ${error}, updated_at = now(), finished_at = now()
      from (select id, status, held from tasks
             where agent_id = ${agentId} and parent_id is not null and status in ('pending', 'running')
               for update) old
     where t.id = old.id
    returning t.*, old.status as before_status, old.held as before_held`.execute(db);
  return rows.map(({ before_status, before_held, ...after }) => ({ before: { status: before_status, held: before_held }, after }));
}

/**
 * Skips the pending children of these agents (just gone offline) whose fleet task does not queue for offline
 * agents: cancelled with `error`; answers each with its status and hold before.
 */
export async function skipChildrenOfAgents(db: Executor, agentIds: readonly string[], error: string): Promise<Array<{ before: Pick<TaskRow, 'status' | 'held'>; after: TaskRow }>> {
  if (agentIds.length === 0) return [];
  const { rows } = await sql<TaskRow & { before_status: TaskRow['status']; before_held: boolean }>`
    update tasks t set status = 'cancelled', held = false, error = ${error}, updated_at = now(), finished_at = now()
      from (select c.id, c.status, c.held from tasks c join tasks p on p.id = c.parent_id
             where c.agent_id = any(${agentIds}::uuid[]) and c.status = 'pending' and not (p.fleet->>'queue_if_offline')::boolean
               for update of c) old
     where t.id = old.id
    returning t.*, old.status as before_status, old.held as before_held`.execute(db);
  return rows.map(({ before_status, before_held, ...after }) => ({ before: { status: before_status, held: before_held }, after }));
}

export type FleetCountColumns = Pick<TaskRow, 'fleet_pending' | 'fleet_running' | 'fleet_succeeded' | 'fleet_failed' | 'fleet_cancelled' | 'fleet_skipped_offline'>;

/** Writes a fleet task's counts and where they leave it. */
export const updateFleet = (
  db: Executor,
  id: string,
  changes: FleetCountColumns & { status: TaskRow['status']; progress: number; stopped_reason: string | null; error: string | null; finished: boolean },
): Promise<TaskRow> => {
  const { finished, ...columns } = changes;
  return db
    .updateTable('tasks')
    .set({ ...columns, updated_at: sql`now()`, ...(finished ? { finished_at: sql`coalesce(finished_at, now())` } : {}) })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
};
