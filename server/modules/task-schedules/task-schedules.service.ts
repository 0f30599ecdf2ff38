// Task schedules: a fleet-wide task request run on a cron expression in a time zone. Team scope (another team's
// schedule is 404), names unique per team regardless of case, merge-patch semantics, If-Match preconditions. The
// cron expression and zone are checked here with the same parser the scheduler fires with; `next_due_at` is set
// from now whenever the expression, the zone or the switch changes, so a disabled schedule never catches up.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { cursorValue } from '../../db/keyset.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { Database } from '../../db/schema.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { checkSchedule } from './task-schedules.cron.ts';
import { toExecution, toTaskSchedule, type TaskSchedule, type TaskScheduleExecution } from './task-schedules.mapper.ts';
import * as repo from './task-schedules.repository.ts';

type Schemas = components['schemas'];
export type TaskScheduleListQuery = NonNullable<operations['listTaskSchedules']['parameters']['query']>;
export type ExecutionListQuery = NonNullable<operations['listTaskScheduleExecutions']['parameters']['query']>;

function conflictOnName(err: unknown, name: string | undefined): never {
  if (isUniqueViolation(err, 'task_schedules_team_name_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `A task schedule named ${name} already exists in this team`, {
      details: [{ field: 'name', message: 'already taken in this team', value: name ?? null }],
    });
  }
  throw err;
}

/** A run is resolved within its schedule's team at each firing, so it may name no other team. */
function checkRunTeam(run: Schemas['CreateTaskRequest'], teamId: string): void {
  if (run.team_id !== undefined && run.team_id !== teamId) {
    throw new ApiError('VAL_ERROR', "The run's team_id must be the schedule's team (or be left out)", {
      details: [{ field: 'run.team_id', message: "not the schedule's team", value: run.team_id }],
    });
  }
}

export class TaskScheduleService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(caller: Caller, query: TaskScheduleListQuery, ctx: RequestContext): Promise<{ items: TaskSchedule[]; pagination: Pagination }> {
    const filter: repo.TaskScheduleFilter = { teamIds: caller.teamIds, teamId: query.team_id, enabled: query.enabled };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'name:asc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listSchedules(this.#db, filter, keys, window),
      count: () => repo.countSchedules(this.#db, filter),
      cursorValue: (row, field) => cursorValue(field === 'name' ? row.name.toLowerCase() : row[field]),
    });
    return { items: rows.map(toTaskSchedule), pagination };
  }

  async get(caller: Caller, id: string): Promise<TaskSchedule> {
    return toTaskSchedule(await this.#find(caller, id));
  }

  async #find(caller: Caller, id: string): Promise<repo.TaskScheduleWithLast> {
    const row = await repo.findSchedule(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Task schedule', id);
    return row;
  }

  async create(caller: Caller, input: Schemas['TaskScheduleCreate']): Promise<TaskSchedule> {
    const teamId = owningTeam(caller, input.team_id);
    checkRunTeam(input.run, teamId);
    const enabled = input.enabled ?? true;
    const firstDue = checkSchedule(input, new Date());
    const id = uuidv7();
    await repo
      .insertSchedule(this.#db, {
        id,
        team_id: teamId,
        name: input.name,
        description: input.description ?? null,
        cron: input.cron,
        timezone: input.timezone,
        enabled,
        missed_runs: input.missed_runs ?? 'skip',
        run: JSON.stringify(input.run),
        next_due_at: enabled ? firstDue : null,
        created_by: caller.agentId ? null : caller.userId,
      })
      .catch((err: unknown) => conflictOnName(err, input.name));
    return this.get(caller, id);
  }

  /** JSON merge patch (RFC 7396): the fields are flat (`run` is replaced whole), so a present key sets and `null` clears. */
  async patch(caller: Caller, id: string, input: Schemas['TaskSchedulePatch'], ctx: RequestContext): Promise<TaskSchedule> {
    const current = await this.#find(caller, id);
    const changes: repo.ScheduleChanges = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (input.missed_runs !== undefined) changes.missed_runs = input.missed_runs;
    if (input.run !== undefined) {
      checkRunTeam(input.run, current.team_id);
      changes.run = JSON.stringify(input.run);
    }
    if (input.cron !== undefined) changes.cron = input.cron;
    if (input.timezone !== undefined) changes.timezone = input.timezone;
    if (input.enabled !== undefined) changes.enabled = input.enabled;
    if (Object.keys(changes).length === 0) return toTaskSchedule(current);
    const timing = { cron: input.cron ?? current.cron, timezone: input.timezone ?? current.timezone };
    const enabled = input.enabled ?? current.enabled;
    // Checked even when only the switch moves, so a patch answers 422 rather than store what cannot be fired.
    const firstDue = checkSchedule(timing, new Date());
    if (input.cron !== undefined || input.timezone !== undefined || enabled !== current.enabled) changes.next_due_at = enabled ? firstDue : null;
    const updated = await repo
      .updateSchedule(this.#db, id, caller.teamIds, changes, ctx.expectedUpdatedAt)
      .catch((err: unknown) => conflictOnName(err, input.name));
    if (!updated) throw await this.#missingOrMoved(caller, id, ctx);
    return this.get(caller, id);
  }

  async delete(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    if (!(await repo.deleteSchedule(this.#db, id, caller.teamIds, ctx.expectedUpdatedAt))) throw await this.#missingOrMoved(caller, id, ctx);
  }

  async executions(caller: Caller, id: string, query: ExecutionListQuery, ctx: RequestContext): Promise<{ items: TaskScheduleExecution[]; pagination: Pagination }> {
    await this.#find(caller, id);
    const filter: repo.ExecutionFilter = { scheduleId: id, status: query.status };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.EXECUTION_SORTABLE_FIELDS,
      defaultSort: 'due_at:desc',
      filter,
      rows: (keys, window) => repo.listExecutions(this.#db, filter, keys, window),
      count: () => repo.countExecutions(this.#db, filter),
    });
    return { items: rows.map(toExecution), pagination };
  }

  /** After a write found no row: 412 when an If-Match version moved on, else 404. */
  async #missingOrMoved(caller: Caller, id: string, ctx: RequestContext): Promise<ApiError> {
    if (ctx.expectedUpdatedAt && (await repo.findSchedule(this.#db, id, caller.teamIds))) return movedOn('task schedule');
    return notFound('Task schedule', id);
  }
}
