// Tasks as long-running operations: actions queue them (refusing an offline agent unless asked to
// queue), fleet tasks run one on many agents (tasks.fleet.ts), operators list, cancel and retry them under
// state rules, and a sweeper fails the tasks of agents that stopped heartbeating.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { Database, TaskRow } from '../../db/schema.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import { listPage, type ListQuery } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { findAgent } from '../agents/agents.repository.ts';
import { assertCommandAllowed } from '../policies/policies.enforce.ts';
import { cancelFleetTask, createFleetTask, settleParents, type CreateTaskRequest } from './tasks.fleet.ts';
import { isFinished, recordTaskCreations, recordTaskEnds, resolveAction, type ActionChoice } from './tasks.lifecycle.ts';
import { accepted, toTask, toTaskLogLine } from './tasks.mapper.ts';
import * as repo from './tasks.repository.ts';

type Schemas = components['schemas'];
type Task = Schemas['Task'];
export type TaskAccepted = Schemas['TaskAccepted'];
export type TaskListQuery = NonNullable<operations['listTasks']['parameters']['query']>;

export class TaskService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Queues a task on one of the caller's agents: an action, or a template of the agent's team. */
  /** `commandField`: where a command stands in the request, for a policy's refusal (`command` in runAgentCommand's body). */
  async act(caller: Caller, agentId: string, choice: ActionChoice, queueIfOffline: boolean, commandField = choice.template ? 'template' : 'action.parameters.command'): Promise<TaskAccepted> {
    const agent = await findAgent(this.#db, agentId, caller.teamIds);
    if (!agent) throw notFound('Agent', agentId);
    const action = await resolveAction(this.#db, [agent.team_id], choice);
    if (action.type === 'command') await assertCommandAllowed(this.#db, agent.team_id, [agent.id], action.parameters, commandField);
    if (agent.status !== 'online' && !queueIfOffline) {
      throw new ApiError('BIZ_AGENT_OFFLINE', `Agent ${agentId} is ${agent.status}; send queue_if_offline to run the task when it returns`);
    }
    const task = await this.#db.transaction().execute(async (trx) => {
      const row = await repo.insertTask(trx, {
        id: uuidv7(),
        team_id: agent.team_id,
        agent_id: agent.id,
        type: action.type,
        parameters: JSON.stringify(action.parameters),
        template_id: action.template_id,
        template_version: action.template_version,
        queued_offline: agent.status !== 'online',
        created_by: caller.agentId ? null : caller.userId,
      });
      await recordTaskCreations(trx, [row]);
      return row;
    });
    return accepted(task);
  }

  /** A fleet task: the parent and its children, in one transaction. */
  async createFleet(caller: Caller, request: CreateTaskRequest): Promise<TaskAccepted> {
    const parent = await this.#db.transaction().execute((trx) => createFleetTask(trx, { teamIds: caller.teamIds, userId: caller.agentId ? null : caller.userId }, request));
    return accepted(parent);
  }

  /** An agent's tasks: `list`, within that agent (404 for another team's). */
  async listOfAgent(caller: Caller, agentId: string, query: TaskListQuery, ctx: RequestContext): Promise<{ items: Task[]; pagination: Pagination }> {
    if (!(await findAgent(this.#db, agentId, caller.teamIds))) throw notFound('Agent', agentId);
    return this.list(caller, { ...query, agent_id: agentId }, ctx);
  }

  async list(caller: Caller, query: TaskListQuery, ctx: RequestContext): Promise<{ items: Task[]; pagination: Pagination }> {
    const filter: repo.TaskFilter = {
      teamIds: caller.teamIds,
      status: query.status,
      type: query.type,
      agentId: query.agent_id,
      kind: query.kind,
      parentId: query.parent_id,
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

  /** Cancels a task; a fleet task's children not started are cancelled with it (tasks.fleet.ts). */
  async cancel(caller: Caller, id: string): Promise<Task> {
    const row = await this.#db.transaction().execute(async (trx) => {
      const task = await repo.findTask(trx, id, caller.teamIds);
      if (!task) throw notFound('Task', id);
      const locked = await repo.lockTask(trx, id);
      if (isFinished(locked.status)) throw new ApiError('BIZ_TASK_FINISHED', `Task ${id} has already ${locked.status === 'cancelled' ? 'been cancelled' : locked.status}`);
      const reason = `cancelled by ${caller.email}`;
      if (locked.kind === 'fleet') return cancelFleetTask(trx, locked, reason);
      const cancelled = await repo.updateTask(trx, id, { status: 'cancelled', held: false, error: reason, finished: true });
      await recordTaskEnds(trx, [cancelled]);
      await settleParents(trx, [{ before: locked, after: cancelled }]);
      return cancelled;
    });
    return toTask(row);
  }

  /** A new try of a failed or cancelled agent's task (a fleet task's child is retried on its own, outside its fleet task). */
  async retry(caller: Caller, id: string): Promise<TaskAccepted> {
    const task = await this.#find(caller, id);
    if (task.kind === 'fleet') throw new ApiError('BIZ_FLEET_TASK_NOT_RETRYABLE', `Task ${id} is a fleet task; retry its failed children, or create a new fleet task for their agents`);
    if (task.status === 'pending' || task.status === 'running') throw new ApiError('BIZ_TASK_ALREADY_RUNNING', `Task ${id} is still ${task.status}`);
    if (task.status === 'succeeded') throw new ApiError('BIZ_TASK_NOT_RETRYABLE', `Task ${id} succeeded; only failed or cancelled tasks are retried`);
    const agent = await findAgent(this.#db, task.agent_id!, caller.teamIds);
    if (!agent) throw notFound('Agent', task.agent_id!);
    // A policy written since the task first ran applies to its retry.
    if (task.type === 'command') await assertCommandAllowed(this.#db, agent.team_id, [agent.id], task.parameters, 'command');
    const retried = await this.#db.transaction().execute(async (trx) => {
      const row = await repo.insertTask(trx, {
        id: uuidv7(),
        team_id: task.team_id,
        agent_id: agent.id,
        type: task.type,
        parameters: JSON.stringify(task.parameters),
        template_id: task.template_id,
        template_version: task.template_version,
        attempt: task.attempt + 1,
        retry_of: task.id,
        queued_offline: agent.status !== 'online',
        created_by: caller.userId,
      });
      await recordTaskCreations(trx, [row]);
      return row;
    });
    return accepted(retried);
  }
}
