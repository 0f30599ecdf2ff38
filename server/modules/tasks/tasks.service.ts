// Tasks as long-running operations: actions queue them (refusing an offline agent unless asked to
// queue), operators list, cancel and retry them under state rules, and a sweeper fails the tasks of
// agents that stopped heartbeating.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { Database, TaskRow } from '../../db/schema.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import { listPage, type ListQuery } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { recordEvents } from '../../events/outbox.ts';
import type { Executor } from '../../db/executor.ts';
import { findAgent } from '../agents/agents.repository.ts';
import { accepted, toTask, toTaskLogLine } from './tasks.mapper.ts';
import * as repo from './tasks.repository.ts';

type Schemas = components['schemas'];
type Task = Schemas['Task'];
export type TaskAccepted = Schemas['TaskAccepted'];
export type TaskListQuery = NonNullable<operations['listTasks']['parameters']['query']>;

const FINISHED = new Set<TaskRow['status']>(['succeeded', 'failed', 'cancelled']);
export const isFinished = (status: TaskRow['status']) => FINISHED.has(status);

const END_EVENT = { succeeded: 'task.completed', failed: 'task.failed', cancelled: 'task.cancelled' } as const;

/** Records the end of each finished task (`task.completed`, `task.failed`, `task.cancelled`) in the caller's transaction. */
export async function recordTaskEnds(db: Executor, rows: readonly TaskRow[]): Promise<void> {
  await recordEvents(
    db,
    rows.flatMap((row) => (row.status in END_EVENT ? [{ type: END_EVENT[row.status as keyof typeof END_EVENT], teamId: row.team_id, data: toTask(row) }] : [])),
  );
}

export class TaskService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Queues a task on one of the caller's agents. */
  async act(caller: Caller, agentId: string, type: Schemas['TaskType'], parameters: Schemas['TaskParameters'], queueIfOffline: boolean): Promise<TaskAccepted> {
    const agent = await findAgent(this.#db, agentId, caller.teamIds);
    if (!agent) throw notFound('Agent', agentId);
    if (agent.status !== 'online' && !queueIfOffline) {
      throw new ApiError('BIZ_AGENT_OFFLINE', `Agent ${agentId} is ${agent.status}; send queue_if_offline to run the task when it returns`);
    }
    const task = await repo.insertTask(this.#db, {
      id: uuidv7(),
      team_id: agent.team_id,
      agent_id: agent.id,
      type,
      parameters: JSON.stringify(parameters),
      queued_offline: agent.status !== 'online',
      created_by: caller.agentId ? null : caller.userId,
    });
    return accepted(task);
  }

  async list(caller: Caller, query: TaskListQuery, ctx: RequestContext): Promise<{ items: Task[]; pagination: Pagination }> {
    const filter: repo.TaskFilter = {
      teamIds: caller.teamIds,
      status: query.status,
      type: query.type,
      agentId: query.agent_id,
      createdAfter: query.created_after,
      createdBefore: query.created_before,
    };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listTasks(this.#db, filter, keys, window),
      count: () => repo.countTasks(this.#db, filter),
    });
    return { items: rows.map(toTask), pagination };
  }

  async get(caller: Caller, id: string): Promise<Task> {
    return toTask(await this.#find(caller, id));
  }

  async #find(caller: Caller, id: string): Promise<TaskRow> {
    const row = await repo.findTask(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Task', id);
    return row;
  }

  async logs(caller: Caller, id: string, query: ListQuery, ctx: RequestContext): Promise<{ items: Schemas['TaskLogLine'][]; pagination: Pagination }> {
    await this.#find(caller, id);
    const { rows, pagination } = await listPage({ ...query, sort: 'seq:asc' }, ctx, {
      sortable: ['seq'] as const,
      defaultSort: 'seq:asc',
      filter: id,
      rows: (keys, window) => repo.listLogs(this.#db, id, keys, window),
      count: () => repo.countLogs(this.#db, id),
      cursorValue: (row) => row.seq,
    });
    return { items: rows.map(toTaskLogLine), pagination };
  }

  async cancel(caller: Caller, id: string): Promise<Task> {
    const row = await this.#db.transaction().execute(async (trx) => {
      const task = await repo.findTask(trx, id, caller.teamIds);
      if (!task) throw notFound('Task', id);
      const locked = (await repo.lockAgentTask(trx, id, task.agent_id))!;
      if (isFinished(locked.status)) throw new ApiError('BIZ_TASK_FINISHED', `Task ${id} has already ${locked.status === 'cancelled' ? 'been cancelled' : locked.status}`);
      const cancelled = await repo.updateTask(trx, id, { status: 'cancelled', error: `cancelled by ${caller.email}`, finished: true });
      await recordTaskEnds(trx, [cancelled]);
      return cancelled;
    });
    return toTask(row);
  }

  async retry(caller: Caller, id: string): Promise<TaskAccepted> {
    const task = await this.#find(caller, id);
    if (task.status === 'pending' || task.status === 'running') throw new ApiError('BIZ_TASK_ALREADY_RUNNING', `Task ${id} is still ${task.status}`);
    if (task.status === 'succeeded') throw new ApiError('BIZ_TASK_NOT_RETRYABLE', `Task ${id} succeeded; only failed or cancelled tasks are retried`);
    const agent = await findAgent(this.#db, task.agent_id, caller.teamIds);
    if (!agent) throw notFound('Agent', task.agent_id);
    const retried = await repo.insertTask(this.#db, {
      id: uuidv7(),
      team_id: task.team_id,
      agent_id: task.agent_id,
      type: task.type,
      parameters: JSON.stringify(task.parameters),
      attempt: task.attempt + 1,
      retry_of: task.id,
      queued_offline: agent.status !== 'online',
      created_by: caller.userId,
    });
    return accepted(retried);
  }
}
