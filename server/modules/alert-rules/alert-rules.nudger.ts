// The nudge: rules are evaluated as metrics arrive, not only every ALERT_EVALUATION_INTERVAL_MS. When a batch of
// metric samples commits (inventory.service.ts), the (team, metric) pairs it wrote are collected here; once per
// NUDGE_GAP_MS at most, one statement brings forward the due time of the enabled rules on those pairs
// (alert-rules.repository.ts `nudgeRules`), so a thousand agents reporting cost one statement per gap, and each
// rule is evaluated at most once per gap because of them.
//
// How it reaches the process that evaluates: through the rule's row. The due time is what every evaluator claims
// by (FOR UPDATE SKIP LOCKED, so each due time is still evaluated by exactly one process); evaluators look at the
// due index every DUE_POLL_MS (alert-rules.evaluator.ts), and this process's own evaluator, if it runs the
// background workers, is woken at once. No Redis is needed, and a Redis outage changes nothing.
//
// A nudge also moves the rule's `fresh_since` back to the oldest sample time of the reports that nudged it; the
// evaluation it makes due (alert-rules.evaluator.ts) reads, before the next full one, only the agents with a sample
// taken since then and those with a pending or firing state, so its cost follows the reports, not the fleet, and a
// nudged sample is never left out (it is judged by its own time, however late it was committed). The nudge never
// waits for a rule under evaluation (it would hold every rule it has locked behind it): such a rule is nudged again
// a gap later.
//
// The delay bound, from a report's answer to the evaluation that sees its samples, while the evaluators keep up:
// NUDGE_GAP_MS (the collection) + the nudge statement + DUE_POLL_MS (another process's look; 0 in this one) + the
// evaluations due before it, so under a second plus database time; a rule evaluated less than NUDGE_GAP_MS ago waits
// out the rest of that gap, one under evaluation one gap more. When rules fall due faster than the evaluators get
// through them, the delay is their queue (the bench's alert_rules section measures it).
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { Logger } from '../../logger.ts';
import * as repo from './alert-rules.repository.ts';

/** The collection window of nudges, and the shortest time between two nudged evaluations of a rule. */
export const NUDGE_GAP_MS = 500;

export class AlertRuleNudger {
  readonly #db: Kysely<Database>;
  readonly #log: Logger;
  readonly #gapMs: number;
  /** Pairs waiting for the next statement, by `team metric`. */
  #pending = new Map<string, repo.NudgePair>();
  /** Rules that were under evaluation at the last nudge, with their oldest sample time: nudged again (see `nudgeRules`). */
  #retry = new Map<string, Date>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(db: Kysely<Database>, log: Logger, options: { gapMs?: number } = {}) {
    this.#db = db;
    this.#log = log;
    this.#gapMs = options.gapMs ?? NUDGE_GAP_MS;
  }

  /** This process's evaluator, woken after each nudge (set when it runs the background workers). */
  set onNudged(wake: (() => void) | undefined) {
    this.#wake = wake;
  }

  /** Samples of these metrics of these teams have just been committed. */
  nudge(pairs: readonly repo.NudgePair[]): void {
    for (const pair of pairs) {
      const key = `${pair.team_id} ${pair.name}`;
      const waiting = this.#pending.get(key);
      if (!waiting || pair.since < waiting.since) this.#pending.set(key, pair);
    }
    this.#schedule();
  }

  #schedule(): void {
    if ((this.#pending.size > 0 || this.#retry.size > 0) && !this.#timer) {
      this.#timer = setTimeout(() => this.#flush(), this.#gapMs);
      this.#timer.unref();
    }
  }

  #flush(): void {
    this.#timer = undefined;
    // One statement at a time: pairs arriving meanwhile go in the next one, a gap later.
    if (this.#writing) {
      this.#timer = setTimeout(() => this.#flush(), this.#gapMs);
      this.#timer.unref();
      return;
    }
    const pairs = [...this.#pending.values()];
    const retry = this.#retry;
    this.#pending = new Map();
    this.#retry = new Map();
    this.#writing = repo
      .nudgeRules(this.#db, pairs, this.#gapMs, retry)
      .then(
        ({ nudged, busy }) => {
          for (const [id, since] of busy) {
            const waiting = this.#retry.get(id);
            if (!waiting || since < waiting) this.#retry.set(id, since);
          }
          if (nudged.length > 0) this.#wake?.();
          this.#schedule();
        },
        // The rules are then evaluated on their timer, as without the nudge.
        (err: unknown) => this.#log.warn({ err: (err as Error).message }, 'alert rules: could not nudge rules after a metrics report'),
      )
      .finally(() => (this.#writing = undefined));
  }

  /** Writes what is waiting, and the statement under way (a graceful stop). */
  async drain(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#flush();
    }
    await this.#writing;
  }
}
