// Evaluates alert rules in the background. Each run claims due rules one at a time (FOR UPDATE SKIP LOCKED
// on `next_evaluation_at`, see the repository), and in the same transaction reads the agents in the rule's
// scope with one statement — every one on a full evaluation (each ALERT_EVALUATION_INTERVAL_MS), only those whose
// samples nudged it and those pending or firing on one made due by metrics reports (alert-rules.nudger.ts) —, moves
// each (rule, agent) on — pending when the condition starts to hold, firing (an alert, raised as any alert is, with
// `alert.triggered`) once it has held `for_seconds`, resolved (`alert.resolved`) when it clears — and commits the
// rule's next due time with those changes (no later than the end of a pending `for_seconds`). Several processes may
// run it side by side: a due time is evaluated by the one that holds the rule.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { AlertRuleRow, Database } from '../../db/schema.ts';
import type { Executor } from '../../db/executor.ts';
import type { Logger } from '../../logger.ts';
import * as alerts from '../alerts/alerts.repository.ts';
import { insertTriggered, resolveLocked } from '../alerts/alerts.service.ts';
import * as repo from './alert-rules.repository.ts';
import { renderTemplate } from './alert-rules.template.ts';

/** The most rules one run evaluates before yielding to the next tick. */
const RULES_PER_RUN = 1_000;
/** Rules evaluated side by side by one process. */
const CONCURRENCY = 2;

const COMPARE: Record<AlertRuleRow['operator'], (value: number, threshold: number) => boolean> = {
  '>': (v, t) => v > t,
  '>=': (v, t) => v >= t,
  '<': (v, t) => v < t,
  '<=': (v, t) => v <= t,
  '==': (v, t) => v === t,
  '!=': (v, t) => v !== t,
};

/** The fingerprint of a rule's alert about one agent: one unresolved alert per (rule, agent) in the team. */
export const ruleFingerprint = (ruleId: string, agentId: string) => `rule:${ruleId}:${agentId}`;

const holds = (rule: AlertRuleRow, reading: repo.AgentReading): boolean =>
  reading.no_data || (reading.value !== null && COMPARE[rule.operator](reading.value, rule.threshold));

const shown = (value: number | null) => (value === null ? 'no data' : String(Math.round(value * 100) / 100));

function message(rule: AlertRuleRow, reading: repo.AgentReading): string {
  const values: Record<string, string> = {
    value: shown(reading.no_data ? null : reading.value),
    threshold: String(rule.threshold),
    metric: rule.metric,
    'rule.name': rule.name,
    'agent.id': reading.agent_id,
    'agent.hostname': reading.hostname,
    'agent.platform': reading.platform,
  };
  for (const [name, value] of Object.entries(rule.labels)) values[`labels.${name}`] = value;
  const text = rule.description_template
    ? renderTemplate(rule.description_template, values)
    : `${rule.metric}: ${rule.aggregation} over ${rule.window_seconds} s is ${values.value} (${rule.operator} ${rule.threshold})`;
  return text.slice(0, 2000);
}

/** Resolves the rule's alerts about these agents (those still unresolved) and forgets their states. */
export async function clearStates(trx: Executor, rule: Pick<AlertRuleRow, 'id' | 'team_id'>, states: readonly repo.RuleState[]): Promise<void> {
  for (const state of states) {
    if (state.alert_id === null) continue;
    const alert = await alerts.lockAlert(trx, state.alert_id, [rule.team_id]);
    if (alert && alert.status !== 'resolved') await resolveLocked(trx, alert.id, null);
  }
  await repo.deleteStates(trx, rule.id, states.map((s) => s.agent_id));
}

/**
 * One rule's evaluation, in the transaction that holds it. Answers when its earliest pending condition has held
 * `for_seconds` (the rule is due again then at the latest), or undefined when none is pending.
 */
export async function evaluateRule(trx: Executor, rule: AlertRuleRow, partial: { since: Date | null } | null = null): Promise<Date | undefined> {
  const [readings, states] = await Promise.all([repo.readRule(trx, rule, partial), repo.statesOf(trx, rule.id)]);
  const stateOf = new Map(states.map((s) => [s.agent_id, s]));
  const cleared: repo.RuleState[] = [];
  const seen = new Set<string>();
  let pendingUntil: number | undefined;
  for (const reading of readings) {
    seen.add(reading.agent_id);
    const state = stateOf.get(reading.agent_id);
    if (!holds(rule, reading)) {
      if (state) cleared.push(state);
      continue;
    }
    const since = state?.since ?? reading.now;
    if (!state) await repo.insertState(trx, rule.id, reading.agent_id, since);
    if (state?.alert_id) continue;
    const firesAt = since.getTime() + rule.for_seconds * 1000;
    if (reading.now.getTime() < firesAt) {
      pendingUntil = Math.min(pendingUntil ?? firesAt, firesAt);
      continue;
    }
    await repo.setStateAlert(trx, rule.id, reading.agent_id, await fire(trx, rule, reading));
  }
  // Agents no longer in scope (or gone) clear too.
  for (const state of states) if (!seen.has(state.agent_id)) cleared.push(state);
  await clearStates(trx, rule, cleared);
  return pendingUntil === undefined ? undefined : new Date(pendingUntil);
}

/** The firing alert's id: raised now, or the unresolved one the (rule, agent) already has. */
async function fire(trx: Executor, rule: AlertRuleRow, reading: repo.AgentReading): Promise<string> {
  const fingerprint = ruleFingerprint(rule.id, reading.agent_id);
  const open = await alerts.lockUnresolvedByFingerprint(trx, rule.team_id, fingerprint);
  if (open) return open.id;
  const [raised] = await insertTriggered(trx, [
    {
      id: uuidv7(),
      team_id: rule.team_id,
      agent_id: reading.agent_id,
      title: rule.name,
      message: message(rule, reading),
      severity: rule.severity,
      source: 'alert-rule',
      fingerprint,
      rule_id: rule.id,
      labels: JSON.stringify(rule.labels),
    },
  ]);
  return raised!.id;
}

/** How often an evaluating process looks for due rules (one indexed read) between its timer's runs. */
export const DUE_POLL_MS = 250;

/**
 * Runs due rules: every `intervalMs` as before, and also whenever a rule was made due early (a nudge from a
 * metrics report, in this process or another; see alert-rules.nudger.ts), which it finds by a cheap look every
 * DUE_POLL_MS or at once when this process nudged. Never two runs at once in a process; across processes each
 * due time is claimed by one (SKIP LOCKED).
 */
export class AlertRuleEvaluator {
  readonly #db: Kysely<Database>;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #onRun: ((ok: boolean) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(db: Kysely<Database>, log: Logger, intervalMs: number, onRun?: (ok: boolean) => void) {
    this.#db = db;
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#onRun = onRun;
  }

  /** Rules fall due by their own times (every interval, or earlier when nudged); polling more often than the interval costs one indexed read. */
  start(): void {
    this.#timer = setInterval(() => this.#run(), Math.min(DUE_POLL_MS, this.#intervalMs));
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Some rule may have just become due (this process nudged it): look now rather than at the next poll. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) this.#again = true;
    else this.#run();
  }

  #run(): void {
    if (this.#running || this.#stopped) return;
    let ran = false;
    this.#running = (async () => {
      do {
        this.#again = false;
        if (!(await repo.anyDue(this.#db))) continue;
        ran = true;
        await this.runOnce();
      } while (this.#again && !this.#stopped);
    })()
      .then(
        () => {
          if (ran) this.#onRun?.(true);
        },
        (err: unknown) => {
          this.#onRun?.(false);
          this.#log.warn({ err: (err as Error).message }, 'alert-rules failed; it tries again');
        },
      )
      .finally(() => (this.#running = undefined));
  }

  /**
   * Evaluates the rules that are due, one transaction each, CONCURRENCY at a time (each claims its own rule, SKIP
   * LOCKED, so the database works on one while this process waits on another); answers how many.
   */
  async runOnce(): Promise<number> {
    let evaluated = 0;
    const worker = async () => {
      while (evaluated < RULES_PER_RUN) {
        const done = await this.#db.transaction().execute(async (trx) => {
          const claimed = await repo.claimDueRule(trx, this.#intervalMs);
          if (!claimed) return false;
          const { rule, partial } = claimed;
          const pendingUntil = await evaluateRule(trx, rule, partial);
          if (pendingUntil) await repo.dueBy(trx, rule.id, pendingUntil);
          return true;
        });
        if (!done) break;
        evaluated += 1;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (evaluated > 0) this.#log.debug({ evaluated }, 'alert rules evaluated');
    return evaluated;
  }

}
