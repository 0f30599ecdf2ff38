// A schedule's due times: its cron expression read in its IANA time zone by croner (a maintained parser; nothing
// here reads cron syntax by hand). Five fields, or six with seconds first; both the service (checking what a user
// sends) and the scheduler (advancing `next_due_at`) compute with the same `compile`.
import { Cron } from 'croner';
import { schemaProperty } from '../../contract.ts';
import { ApiError, echoed } from '../../http/errors.ts';

/** How many due times a schedule lists: the `maxItems` of its `next_runs`. */
const NEXT_RUNS = (schemaProperty('TaskScheduleFields', 'next_runs') as { maxItems: number }).maxItems;

export interface CronSchedule {
  cron: string;
  timezone: string;
}

/** The expression as croner reads it, never started (no timer, no callback): only asked for due times. */
const compile = (schedule: CronSchedule): Cron => new Cron(schedule.cron, { timezone: schedule.timezone, paused: true, mode: '5-or-6-parts' });

const invalid = (field: 'cron' | 'timezone', message: string, value: string): ApiError =>
  new ApiError('VAL_INVALID_FORMAT', `Invalid ${field}: ${message}`, { details: [{ field, message, ...echoed(value) }] });

/** Whether the runtime's time zone database knows the name (Intl refuses unknown zones with a RangeError). */
function knownZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks a cron expression and time zone as a user sent them, answering the first due time after `from`:
 * 422 `VAL_INVALID_FORMAT` naming `timezone` or `cron` when the zone is unknown, the expression unreadable,
 * or never due.
 */
export function checkSchedule(schedule: CronSchedule, from: Date): Date {
  if (!knownZone(schedule.timezone)) throw invalid('timezone', 'not an IANA time zone name this server knows', schedule.timezone);
  let cron: Cron;
  try {
    cron = compile(schedule);
  } catch (err) {
    throw invalid('cron', (err as Error).message.replace(/^CronPattern: /, ''), schedule.cron);
  }
  const next = cron.nextRun(from);
  if (!next) throw invalid('cron', 'the expression is never due', schedule.cron);
  return next;
}

/** The first due time strictly after `after`, or null when there is none. */
export const nextDueAfter = (schedule: CronSchedule, after: Date): Date | null => compile(schedule).nextRun(after);

/** `first` and the due times after it, `NEXT_RUNS` in all. */
export function dueTimesFrom(schedule: CronSchedule, first: Date): Date[] {
  return [first, ...compile(schedule).nextRuns(NEXT_RUNS - 1, first)];
}

/** The latest due time strictly before `now` (the one a missed run collapses to), or null. */
export const latestDueBefore = (schedule: CronSchedule, now: Date): Date | null => compile(schedule).previousRuns(1, now)[0] ?? null;
