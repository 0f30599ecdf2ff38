// A fleet-wide metric query: a read of the marked hours, then one statement. The agents in scope are the agents
// module's own filter (the caller's teams, then listAgents' filters); the samples come from the hourly rollups where
// the query's buckets are whole hours and its aggregation can be combined from counts, sums, minima and maxima, else
// from the samples themselves. An hour written since its rollup was computed (it has a mark) is always read from the
// samples, so the answer is the same either way (see migration 2026-12-03T1700). The marked hours are read first and
// written into the statement as constants, in one snapshot: the planner then knows how few samples it reads (a mark
// or two, usually) and aggregates in memory, where a join on the marks table made it plan for millions.
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { components } from '../../../generated/openapi.d.ts';
import type { Executor } from '../../db/executor.ts';
import { agentsMatching, type AgentFilter } from '../agents/agents.repository.ts';

type Schemas = components['schemas'];
type Aggregation = Schemas['MetricQueryAggregation'];

export interface QueryPlan {
  metrics: readonly string[];
  from: Date;
  to: Date;
  stepSeconds: number;
  aggregation: Aggregation;
  groupBy: Schemas['MetricQueryGroupBy'];
  agents: AgentFilter;
  agentIds: readonly string[] | undefined;
  labels: Schemas['MetricLabels'] | undefined;
  /** At most this many points are read; one more means the answer is too large. */
  maxPoints: number;
}

export interface PointRow {
  metric: string;
  group: string | null;
  group_name: string | null;
  at: Date;
  value: number;
  samples: number;
}

const EPOCH = sql`timestamptz '1970-01-01T00:00:00Z'`;
const PERCENTILES: Partial<Record<Aggregation, number>> = { p50: 0.5, p95: 0.95, p99: 0.99 };

/** Whether the rollups can answer: whole-hour buckets over whole hours, and an aggregation they can combine. */
export const rollupsAnswer = (plan: QueryPlan): boolean =>
  PERCENTILES[plan.aggregation] === undefined && plan.stepSeconds % 3600 === 0 && plan.from.getTime() % 3_600_000 === 0 && plan.to.getTime() % 3_600_000 === 0;

/** One bucket's value, from parts that each carry a count, a sum, a minimum and a maximum (and a raw value). */
function aggregate(aggregation: Aggregation): RawBuilder<number> {
  const q = PERCENTILES[aggregation];
  if (q !== undefined) return sql<number>`percentile_cont(${sql.lit(q)}) within group (order by p.value)`;
  switch (aggregation) {
    case 'avg':
      return sql<number>`sum(p.sum) / sum(p.samples)`;
    case 'min':
      return sql<number>`min(p.min)`;
    case 'max':
      return sql<number>`max(p.max)`;
    case 'sum':
      return sql<number>`sum(p.sum)`;
    default:
      return sql<number>`sum(p.samples)`;
  }
}

/** What a series stands for, and its name for people, by `group_by`; with the joins it needs. */
function grouping(groupBy: Schemas['MetricQueryGroupBy']): { key: RawBuilder<string | null>; name: RawBuilder<string | null>; joins: RawBuilder<unknown> } {
  const none = sql``;
  if (groupBy === 'agent') return { key: sql`a.id::text`, name: sql`a.hostname::text`, joins: none };
  if (groupBy === 'platform') return { key: sql`a.platform::text`, name: sql`a.platform::text`, joins: none };
  if (groupBy === 'group') {
    return {
      key: sql`g.id::text`,
      name: sql`g.name::text`,
      joins: sql`left join agent_group_members gm on gm.agent_id = p.agent_id left join agent_groups g on g.id = gm.group_id`,
    };
  }
  if (groupBy.startsWith('label:')) {
    const label = groupBy.slice('label:'.length);
    return { key: sql`p.labels ->> ${label}`, name: sql`p.labels ->> ${label}`, joins: none };
  }
  return { key: sql`null::text`, name: sql`null::text`, joins: none };
}

/** A metric's hour written since its rollup was computed. */
export interface MarkedHour {
  name: string;
  bucket: Date;
}

/** The marked hours a query over the rollups must read from the samples instead. */
export async function markedHours(db: Executor, plan: QueryPlan): Promise<MarkedHour[]> {
  if (!rollupsAnswer(plan)) return [];
  const { rows } = await sql<MarkedHour>`
    select distinct name, bucket from agent_metric_rollup_marks
     where name in (${sql.join(plan.metrics.map((m) => sql`${m}`))}) and bucket >= ${plan.from} and bucket < ${plan.to}
     order by name, bucket`.execute(db);
  return rows;
}

/** The statement of a query, given its marked hours (the bench explains it as is). */
export function pointsStatement(db: Executor, plan: QueryPlan, marked: readonly MarkedHour[]): RawBuilder<PointRow> {
  let agents = agentsMatching(db, plan.agents).select(['id', 'platform', 'hostname']);
  if (plan.agentIds) agents = agents.where('id', 'in', [...plan.agentIds]);
  const metrics = sql.join(plan.metrics.map((m) => sql`${m}`));
  const labelled = (alias: string) => (plan.labels && Object.keys(plan.labels).length > 0 ? sql`and ${sql.ref(alias)}.labels @> ${JSON.stringify(plan.labels)}::jsonb` : sql``);
  const samples = sql`
      select s.agent_id, s.name, s.labels, s.at, 1 as samples, s.value as sum, s.value as min, s.value as max, s.value
        from agent_metrics s join scope a on a.id = s.agent_id`;
  const hours = sql.join(marked.map((m) => sql`(${m.name}::varchar, ${m.bucket}::timestamptz)`));
  const inMarked = sql.join(
    marked.map((m) => sql`(s.name = ${m.name} and s.at >= ${m.bucket}::timestamptz and s.at < ${m.bucket}::timestamptz + interval '1 hour')`),
    sql` or `,
  );
  const parts = !rollupsAnswer(plan)
    ? sql`${samples}
       where s.name in (${metrics}) and s.at >= ${plan.from} and s.at < ${plan.to} ${labelled('s')}`
    : marked.length === 0
      ? sql`
      select r.agent_id, r.name, r.labels, r.bucket as at, r.samples, r.sum, r.min, r.max, null::float8 as value
        from agent_metric_rollups r join scope a on a.id = r.agent_id
       where r.name in (${metrics}) and r.bucket >= ${plan.from} and r.bucket < ${plan.to} ${labelled('r')}`
      : sql`
      select r.agent_id, r.name, r.labels, r.bucket as at, r.samples, r.sum, r.min, r.max, null::float8 as value
        from agent_metric_rollups r join scope a on a.id = r.agent_id
       where r.name in (${metrics}) and r.bucket >= ${plan.from} and r.bucket < ${plan.to} ${labelled('r')}
         and (r.name, r.bucket) not in (${hours})
      union all
      ${samples}
       where (${inMarked}) ${labelled('s')}`;
  const { key, name, joins } = grouping(plan.groupBy);
  return sql<PointRow>`
    with scope as materialized (${agents}),
    p as (${parts})
    select p.name as metric, ${key} as "group", ${name} as group_name,
           date_bin(${sql.lit(`${plan.stepSeconds} seconds`)}::interval, p.at, ${EPOCH}) as at,
           (${aggregate(plan.aggregation)})::float8 as value, sum(p.samples)::int as samples
      from p join scope a on a.id = p.agent_id ${joins}
     group by 1, 2, 3, 4
     order by 1, 2 nulls last, 4
     limit ${plan.maxPoints + 1}`;
}

/**
 * Runs `work` in one read-only snapshot (the marks and the rollups they exclude read together), without JIT
 * compilation: compiling costs more than these statements take to run.
 */
export async function inQuerySnapshot<T>(db: Kysely<Database>, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      await sql`set local jit = off`.execute(trx);
      return work(trx);
    });
}

export async function queryPoints(db: Kysely<Database>, plan: QueryPlan): Promise<PointRow[]> {
  return inQuerySnapshot(db, async (trx) => (await pointsStatement(trx, plan, await markedHours(trx, plan)).execute(trx)).rows);
}
