// Thin Kysely queries for alert rules and their per-agent states, with explicit columns. Reads for callers
// are scoped to their teams; the evaluator's queries (claim, evaluate, states) work on one rule it holds.
import { sql, type Insertable, type Updateable } from 'kysely';
import type { AlertRuleRow, AlertRulesTable } from '../../db/schema.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { onlyTeams } from '../../db/team-scope.ts';

export const SORTABLE_FIELDS = ['created_at', 'updated_at'] as const;
export type AlertRuleSortField = (typeof SORTABLE_FIELDS)[number];

const ruleColumns = [
  'id',
  'team_id',
  'name',
  'metric',
  'scope',
  'aggregation',
  'window_seconds',
  'operator',
  'threshold',
  'for_seconds',
  'no_data_seconds',
  'severity',
  'labels',
  'description_template',
  'enabled',
  'next_evaluation_at',
  'evaluated_at',
  'full_evaluation_at',
  'fresh_since',
  'created_at',
  'updated_at',
] as const;

export interface AlertRuleFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
}

function filtered(db: Executor, filter: AlertRuleFilter) {
  let query = db.selectFrom('alert_rules').$call(onlyTeams(filter.teamIds));
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  return query;
}

export const listRules = (db: Executor, filter: AlertRuleFilter, keys: SortKey<AlertRuleSortField>[], window: Window): Promise<AlertRuleRow[]> =>
  pageOf(filtered(db, filter).select(ruleColumns), keys, window, (field) => sql.ref(field)).execute();

export async function countRules(db: Executor, filter: AlertRuleFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findRule = (db: Executor, id: string, teamIds: readonly string[]): Promise<AlertRuleRow | undefined> =>
  filtered(db, { teamIds }).select(ruleColumns).where('id', '=', id).executeTakeFirst();

/** One of the caller's rules, locked for the rest of the transaction. */
export const lockRule = (db: Executor, id: string, teamIds: readonly string[]): Promise<AlertRuleRow | undefined> =>
  filtered(db, { teamIds }).select(ruleColumns).where('id', '=', id).forUpdate().executeTakeFirst();

export const insertRule = (db: Executor, row: Insertable<AlertRulesTable>): Promise<AlertRuleRow> =>
  db.insertInto('alert_rules').values(row).returning(ruleColumns).executeTakeFirstOrThrow();

export const updateRule = (db: Executor, id: string, changes: Updateable<AlertRulesTable>): Promise<AlertRuleRow> =>
  db.updateTable('alert_rules').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id).returning(ruleColumns).executeTakeFirstOrThrow();

export async function deleteRule(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('alert_rules').where('id', '=', id).execute();
}

/** Whether the agent, or the agent group, belongs to the team. */
export async function agentInTeam(db: Executor, agentId: string, teamId: string): Promise<boolean> {
  return (await db.selectFrom('agents').select('id').where('id', '=', agentId).where('team_id', '=', teamId).executeTakeFirst()) !== undefined;
}

export async function groupInTeam(db: Executor, groupId: string, teamId: string): Promise<boolean> {
  return (await db.selectFrom('agent_groups').select('id').where('id', '=', groupId).where('team_id', '=', teamId).executeTakeFirst()) !== undefined;
}

// ---- The evaluator's side ----

export interface ClaimedRule {
  rule: AlertRuleRow;
  /**
   * Null for a full evaluation (every agent in scope: every `intervalMs`, and the first). Else a nudged one (or one
   * due when a pending condition's `for_seconds` ends), which reads the agents with a sample taken since `since`
   * (the oldest sample of the reports that nudged it; null when none did) and those with a pending or firing state.
   */
  partial: { since: Date | null } | null;
}

/**
 * Takes one enabled rule that is due, skipping rules another evaluator holds, and moves its due times on in the same
 * transaction: the rule stays locked until the caller's transaction (which writes the evaluation's state changes)
 * ends, so each due time is evaluated by exactly one process. A full evaluation is due every `intervalMs`; one
 * made due earlier by a nudge (`nudgeRules`) reads only the agents whose samples nudged it.
 */
export async function claimDueRule(db: Executor, intervalMs: number): Promise<ClaimedRule | undefined> {
  const rule = await db
    .selectFrom('alert_rules')
    .select(ruleColumns)
    .select(sql<boolean>`evaluated_at is null or full_evaluation_at <= now()`.as('full'))
    .where('enabled', '=', true)
    .where('next_evaluation_at', '<=', sql<Date>`now()`)
    .orderBy('next_evaluation_at')
    .limit(1)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
  if (!rule) return undefined;
  const next = rule.full ? sql<Date>`now() + make_interval(secs => ${intervalMs / 1000}::float8)` : sql<Date>`full_evaluation_at`;
  await db
    .updateTable('alert_rules')
    .set({ full_evaluation_at: next, next_evaluation_at: next, evaluated_at: sql<string>`now()`, fresh_since: null })
    .where('id', '=', rule.id)
    .execute();
  const { full, ...row } = rule;
  return { rule: row, partial: full ? null : { since: row.fresh_since } };
}

/** Whether some enabled rule is due: one read of the due index, the evaluator's look before it opens a transaction. */
export async function anyDue(db: Executor): Promise<boolean> {
  const row = await db
    .selectFrom('alert_rules')
    .select('id')
    .where('enabled', '=', true)
    .where('next_evaluation_at', '<=', sql<Date>`now()`)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** What a nudge names: a (team, metric) whose samples just committed, with the oldest sample's time. */
export interface NudgePair {
  team_id: string;
  name: string;
  since: Date;
}

/**
 * The nudge of freshly reported samples, for the enabled rules on these (team, metric) pairs and the rules in
 * `retry`: each rule's `fresh_since` moves back to the oldest sample that nudged it (what its next evaluation reads
 * from), and a rule not already due within `gapMs` becomes due `gapMs` after its last evaluation, or now if that has
 * passed: each rule is evaluated at most once per `gapMs` because of nudges, whatever the number of reports and
 * processes. A rule under evaluation right now (its row locked) is not waited for — that would hold the nudge, and
 * every rule it has locked, behind the evaluation — but answered in `busy` (with its oldest sample time): the caller
 * nudges it again a gap later, since the evaluation under way may have read before the samples committed. Answers
 * the rules changed (due sooner, or reading from an older sample) and the busy ones.
 */
export async function nudgeRules(
  db: Executor,
  pairs: readonly NudgePair[],
  gapMs: number,
  retry: ReadonlyMap<string, Date> = new Map(),
): Promise<{ nudged: string[]; busy: Map<string, Date> }> {
  if (pairs.length === 0 && retry.size === 0) return { nudged: [], busy: new Map() };
  const gap = sql`make_interval(secs => ${gapMs / 1000}::float8)`;
  const retried = [...retry].map(([id, since]) => ({ id, since: since.toISOString() }));
  const { rows } = await sql<{ id: string; since: Date; taken: boolean; nudged: boolean }>`
    with wanted as (
      select w.team_id, w.name, min(w.since) as since
        from jsonb_to_recordset(${JSON.stringify(pairs.map((p) => ({ ...p, since: p.since.toISOString() })))}::jsonb)
          as w(team_id uuid, name text, since timestamptz)
       group by w.team_id, w.name
    ), candidates as (
      select x.id, min(x.since) as since from (
        select r.id, w.since from alert_rules r join wanted w on w.team_id = r.team_id and w.name = r.metric where r.enabled
        union all
        select t.id, t.since from jsonb_to_recordset(${JSON.stringify(retried)}::jsonb) as t(id uuid, since timestamptz)
      ) x group by x.id
    ), target as materialized (
      select r.id from alert_rules r where r.id in (select id from candidates) and r.enabled
       order by r.id
       for update skip locked
    ), updated as (
      update alert_rules r
         set fresh_since = least(coalesce(r.fresh_since, c.since), c.since),
             next_evaluation_at = case when r.next_evaluation_at > now() + ${gap}
                                       then greatest(now(), coalesce(r.evaluated_at, now()) + ${gap})
                                       else r.next_evaluation_at end
        from target t join candidates c on c.id = t.id
       where r.id = t.id
         and (r.next_evaluation_at > now() + ${gap} or r.fresh_since is null or r.fresh_since > c.since)
      returning r.id
    )
    select c.id::text as id, c.since, (t.id is not null) as taken, (u.id is not null) as nudged
      from candidates c left join target t on t.id = c.id left join updated u on u.id = c.id`.execute(db);
  return { nudged: rows.filter((r) => r.nudged).map((r) => r.id), busy: new Map(rows.filter((r) => !r.taken).map((r) => [r.id, new Date(r.since)])) };
}

/** Makes the rule (held by the caller) due at `at` at the latest: a pending condition is looked at when its `for_seconds` ends. */
export async function dueBy(db: Executor, ruleId: string, at: Date): Promise<void> {
  await db
    .updateTable('alert_rules')
    .set({ next_evaluation_at: sql`least(next_evaluation_at, ${at.toISOString()}::timestamptz)` })
    .where('id', '=', ruleId)
    .execute();
}

export interface AgentReading {
  agent_id: string;
  hostname: string;
  platform: string;
  /** The aggregation over the window; null without samples in it. */
  value: number | null;
  /** The agent has sent no sample for `no_data_seconds` (always false when the rule ignores no data). */
  no_data: boolean;
  now: Date;
}

const AGGREGATIONS: Record<AlertRuleRow['aggregation'], ReturnType<typeof sql>> = {
  avg: sql`avg(m.value) filter (where m.at >= w.since)`,
  min: sql`min(m.value) filter (where m.at >= w.since)`,
  max: sql`max(m.value) filter (where m.at >= w.since)`,
  last: sql`(array_agg(m.value order by m.at desc) filter (where m.at >= w.since))[1]`,
  count: sql`(count(*) filter (where m.at >= w.since))::float8`,
};

/**
 * One statement: every agent in the rule's scope, with the rule's aggregation over its window; with `partial` (a
 * nudged evaluation), only those with a sample of the metric taken since `partial.since` (found by the samples' time
 * index: a few rows, whatever the fleet; samples older than the rule looks back are left to the full evaluation) and
 * those with a state for the rule.
 */
export async function readRule(db: Executor, rule: AlertRuleRow, partial: { since: Date | null } | null = null): Promise<AgentReading[]> {
  const scope = rule.scope;
  const lookBack = Math.max(rule.window_seconds, rule.no_data_seconds ?? 0);
  const since = partial?.since ? new Date(Math.max(partial.since.getTime(), Date.now() - lookBack * 1000 - 60_000)) : null;
  const fresh = !partial
    ? sql``
    : since
      ? sql`join (select m.agent_id from agent_metrics m where m.at >= ${since.toISOString()}::timestamptz and m.name = ${rule.metric}
                  union select s.agent_id from alert_rule_states s where s.rule_id = ${rule.id}) f on f.agent_id = a.id`
      : sql`join alert_rule_states f on f.agent_id = a.id and f.rule_id = ${rule.id}`;
  const { rows } = await sql<AgentReading>`
    with w as (select now() - make_interval(secs => ${rule.window_seconds}) as since,
                      now() - make_interval(secs => ${lookBack}) as look_back)
    select a.id as agent_id, a.hostname, a.platform, r.value,
           (${rule.no_data_seconds}::int is not null
             and coalesce(r.last_at, a.created_at) < now() - make_interval(secs => coalesce(${rule.no_data_seconds}::int, 0))) as no_data,
           now() as now
      from agents a
      ${fresh}
      left join lateral (
        select ${AGGREGATIONS[rule.aggregation]} as value, max(m.at) as last_at
          from agent_metrics m, w
         where m.agent_id = a.id and m.name = ${rule.metric} and m.at >= w.look_back) r on true
     where a.team_id = ${rule.team_id}
       and (${scope.agent_id ?? null}::uuid is null or a.id = ${scope.agent_id ?? null}::uuid)
       and (${scope.group_id ?? null}::uuid is null
            or exists (select 1 from agent_group_members g where g.group_id = ${scope.group_id ?? null}::uuid and g.agent_id = a.id))
       and (${scope.platform ?? null}::text is null or a.platform = ${scope.platform ?? null}::text)
       and (${scope.status ?? null}::text is null or a.status = ${scope.status ?? null}::text)
       and (${scope.tags ?? null}::text[] is null or a.tags @> ${scope.tags ?? null}::text[])`.execute(db);
  return rows;
}

export interface RuleState {
  agent_id: string;
  since: Date;
  alert_id: string | null;
}

export const statesOf = (db: Executor, ruleId: string): Promise<RuleState[]> =>
  db.selectFrom('alert_rule_states').select(['agent_id', 'since', 'alert_id']).where('rule_id', '=', ruleId).execute();

export async function insertState(db: Executor, ruleId: string, agentId: string, since: Date): Promise<void> {
  await db.insertInto('alert_rule_states').values({ rule_id: ruleId, agent_id: agentId, since }).execute();
}

export async function setStateAlert(db: Executor, ruleId: string, agentId: string, alertId: string): Promise<void> {
  await db.updateTable('alert_rule_states').set({ alert_id: alertId }).where('rule_id', '=', ruleId).where('agent_id', '=', agentId).execute();
}

export async function deleteStates(db: Executor, ruleId: string, agentIds: readonly string[]): Promise<void> {
  if (agentIds.length === 0) return;
  await db.deleteFrom('alert_rule_states').where('rule_id', '=', ruleId).where('agent_id', 'in', [...agentIds]).execute();
}
