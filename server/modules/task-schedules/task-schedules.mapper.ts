import type { components } from '../../../generated/openapi.d.ts';
import type { TaskScheduleExecutionRow } from '../../db/schema.ts';
import { dueTimesFrom } from './task-schedules.cron.ts';
import type { TaskScheduleExecutionJson, TaskScheduleWithLast } from './task-schedules.repository.ts';

export type TaskSchedule = components['schemas']['TaskSchedule'];
export type TaskScheduleExecution = components['schemas']['TaskScheduleExecution'];

const iso = (time: Date | string): string => new Date(time).toISOString();

/** An execution as the API shows it (from its row, or from the JSON a schedule's read carries). */
export function toExecution(row: TaskScheduleExecutionRow | TaskScheduleExecutionJson): TaskScheduleExecution {
  return {
    id: row.id,
    schedule_id: row.schedule_id,
    due_at: iso(row.due_at),
    fired_at: iso(row.fired_at),
    task_id: row.task_id,
    status: row.status,
    missed: row.missed,
    error: row.error,
  };
}

/**
 * A row as the API shows it. `next_runs` starts at the due time the scheduler waits for, so it changes when the
 * schedule fires (or is changed), not with every passing second: the ETag of a schedule stays put between firings,
 * and `updated_at` (Last-Modified) moves with each firing.
 */
export function toTaskSchedule(row: TaskScheduleWithLast): TaskSchedule {
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    description: row.description,
    cron: row.cron,
    timezone: row.timezone,
    enabled: row.enabled,
    missed_runs: row.missed_runs,
    run: row.run,
    next_runs: row.enabled && row.next_due_at ? dueTimesFrom(row, row.next_due_at).map(iso) : [],
    last_execution: row.last_execution ? toExecution(row.last_execution) : null,
    created_by: row.created_by,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}
