// The scheduler: every process with background workers runs `fireDueSchedules` each tick (server/workers.ts).
// Each due schedule is handled in a transaction of its own that locks it (FOR UPDATE SKIP LOCKED, so processes
// share the due schedules without waiting on each other), records the due time's execution (UNIQUE (schedule_id,
// due_at): a due time another process already recorded is never fired again), creates the fleet-wide task in the
// same transaction, and advances `next_due_at`. A due time therefore fires exactly once however many processes
// run, and a process that dies mid-way leaves nothing: its transaction rolls back and the next tick takes it up.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Database, TaskScheduleRow } from '../../db/schema.ts';
import type { Executor } from '../../db/executor.ts';
import { inSavepoint } from '../../db/savepoint.ts';
import { ApiError } from '../../http/errors.ts';
import { permissionsOf } from '../../auth/permissions.ts';
import { createFleetTask } from '../tasks/tasks.fleet.ts';
import type { Logger } from '../../logger.ts';
import { latestDueBefore, nextDueAfter } from './task-schedules.cron.ts';
import * as repo from './task-schedules.repository.ts';

/** The most due schedules one tick handles; the rest wait for the next tick (or another process). */
const MAX_PER_TICK = 100;

/** A due time is missed (no process was running) when it is older than one tick, and never under this. */
const MIN_GRACE_MS = 5_000;

export const missedAfterMs = (tickMs: number): number => Math.max(tickMs, MIN_GRACE_MS);

export interface TickResult {
  fired: number;
  skipped: number;
  failed: number;
}

/** What came of a firing: the task it created, or why none could be. */
type Launched = { task_id: string } | { error: string };

/**
 * Why the schedule's creator may not run its task now, or undefined when it may: a schedule acts in its creator's
 * name, so it fires only while that user exists, is active, is still a member of the schedule's team and its role
 * still grants `tasks:execute` (what `createTask` requires). Otherwise the due time is settled as a `failed`
 * execution carrying this reason (the schedule's `last_execution` shows it) and no task is created; the schedule
 * stays enabled, so it fires again once the creator is allowed again (or someone recreates it).
 */
async function creatorRefusal(trx: Executor, schedule: TaskScheduleRow): Promise<string | undefined> {
  const prefix = 'skipped: the schedule\'s creator';
  if (!schedule.created_by) return `${prefix} no longer exists`;
  const creator = await repo.creatorOf(trx, schedule.created_by, schedule.team_id);
  if (!creator) return `${prefix} no longer exists`;
  if (!creator.active) return `${prefix} is deactivated`;
  if (!creator.member) return `${prefix} is no longer a member of the team`;
  if (!permissionsOf(creator.role).has('tasks:execute')) return `${prefix} no longer has the permission tasks:execute (role ${creator.role})`;
  return undefined;
}

/**
 * Creates the task in a savepoint, so a refusal (a target that resolves to no agent, a template deleted since)
 * undoes only the task's own writes and becomes a `failed` execution: the due time is settled either way, and a
 * schedule that cannot fire never holds up the ones due after it.
 */
async function launch(trx: Executor, schedule: TaskScheduleRow, log: Logger): Promise<Launched> {
  const refusal = await creatorRefusal(trx, schedule);
  if (refusal) return { error: refusal };
  try {
    // As the schedule's creator would run it over HTTP, within the schedule's team only.
    const actor = { teamIds: [schedule.team_id], userId: schedule.created_by, scheduleId: schedule.id };
    const parent = await inSavepoint(trx, 'schedule_firing', () => createFleetTask(trx, actor, schedule.run));
    return { task_id: parent.id };
  } catch (err) {
    if (err instanceof ApiError) return { error: err.message };
    log.error({ err, schedule_id: schedule.id }, 'scheduler: creating the task failed unexpectedly');
    return { error: 'the task could not be created (an internal error; see the server log)' };
  }
}

/** Handles one due schedule, if any is left, in one transaction; answers what became of it, or nothing when none was due. */
async function fireOne(db: Kysely<Database>, now: Date, graceMs: number, log: Logger): Promise<keyof TickResult | 'none' | undefined> {
  return db.transaction().execute(async (trx) => {
    const schedule = await repo.lockDue(trx, now);
    if (!schedule) return undefined;
    const due = schedule.next_due_at!;
    const missed = now.getTime() - due.getTime() > graceMs;
    // A missed schedule collapses every due time it missed into the latest one, then goes on from now.
    const dueAt = missed ? (latestDueBefore(schedule, now) ?? due) : due;
    const skip = missed && schedule.missed_runs === 'skip';
    const id = uuidv7();
    const recorded = await repo.insertExecution(trx, { id, schedule_id: schedule.id, due_at: dueAt, status: skip ? 'skipped_missed' : 'fired', missed });
    let outcome: keyof TickResult | 'none' = 'none';
    if (recorded && skip) outcome = 'skipped';
    if (recorded && !skip) {
      const launched = await launch(trx, schedule, log);
      await repo.settleExecution(trx, id, launched);
      outcome = 'error' in launched ? 'failed' : 'fired';
      if ('error' in launched) log.warn({ schedule_id: schedule.id, due_at: dueAt.toISOString(), error: launched.error }, 'scheduler: the schedule could not create its task');
    }
    if (missed) log.info({ schedule_id: schedule.id, missed_since: due.toISOString(), due_at: dueAt.toISOString(), policy: schedule.missed_runs }, 'scheduler: due times were missed while no server ran');
    await repo.advance(trx, schedule.id, nextDueAfter(schedule, missed ? now : due));
    return outcome;
  });
}

/** Fires every schedule due at `now` (at most MAX_PER_TICK), each in its own transaction. */
export async function fireDueSchedules(db: Kysely<Database>, log: Logger, options: { graceMs: number; now?: Date }): Promise<TickResult> {
  const now = options.now ?? new Date();
  const result: TickResult = { fired: 0, skipped: 0, failed: 0 };
  for (let i = 0; i < MAX_PER_TICK; i += 1) {
    const outcome = await fireOne(db, now, options.graceMs, log);
    if (outcome === undefined) break;
    if (outcome !== 'none') result[outcome] += 1;
  }
  return result;
}
