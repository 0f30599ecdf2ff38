// The bench's metrics_query section: a fleet-wide metric query on a week of 1-minute samples. Up to `agents` of the
// bench team's agents get one `cpu_usage` sample a minute for `days` days (generate_series, a day per statement),
// the hours are marked and rolled up by the server's own rollUpMarked (what the worker does), the tables are
// vacuumed and analyzed; then `POST /api/v1/metrics/query` (7 days, 1-hour buckets, avg, by platform) is timed over
// HTTP, and EXPLAIN (ANALYZE, BUFFERS) of the very statement it runs is printed. A p95 over one day (read from the
// samples, as percentiles always are) is timed once beside it.
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../../server/db/schema.ts';
import { rollUpMarked } from '../../server/modules/inventory/inventory.repository.ts';
import { inQuerySnapshot, markedHours, pointsStatement } from '../../server/modules/metric-queries/metric-queries.repository.ts';
import { planQuery } from '../../server/modules/metric-queries/metric-queries.service.ts';
import { log } from './log.ts';

export const METRICS_QUERY_PATH = '/api/v1/metrics/query';
/** The issue's target for the 7-day, 1-hour, by-platform query. */
export const METRICS_QUERY_TARGET_MS = 300;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const RUNS = 10;

export interface MetricsQueryReport {
  agents: number;
  days: number;
  samples: number;
  seed_ms: number;
  rollup_ms: number;
  rollup_rows: number;
  path: string;
  body: unknown;
  runs: number;
  /** Over HTTP, after one warm-up: the median and the slowest of `runs`. */
  latency_median_ms: number;
  latency_max_ms: number;
  series: number;
  points: number;
  target_ms: number;
  met: boolean;
  /** EXPLAIN ANALYZE's figures and plan of the statement the query runs. */
  execution_ms: number;
  plan: string[];
  /** One p95 over a day (read from the samples), over HTTP; null when it was refused (e.g. past DB_TIMEOUT_MS: 503). */
  p95_one_day_ms: number | null;
  p95_one_day_status: number;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: Math.round((performance.now() - started) * 10) / 10, value };
}

export async function measureMetricsQuery(o: { databaseUrl: string; url: string; teamId: string; headers: Record<string, string>; agents: number; days: number }): Promise<MetricsQueryReport> {
  const pool = new pg.Pool({ connectionString: o.databaseUrl, max: 2 });
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    const ids = (await pool.query<{ id: string }>('select id from agents where team_id = $1 order by id limit $2', [o.teamId, o.agents])).rows.map((r) => r.id);
    const to = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const from = to - o.days * DAY_MS;
    log.info('metrics_query: seeding samples', { agents: ids.length, days: o.days, samples: ids.length * o.days * 1440 });
    const seed = await timed(async () => {
      for (let day = 0; day < o.days; day++) {
        const start = new Date(from + day * DAY_MS);
        const end = new Date(from + (day + 1) * DAY_MS);
        // A daily wave per agent, shifted by its position: values from 10 to 90.
        await pool.query(
          `insert into agent_metrics (agent_id, name, at, value)
           select a.id, 'cpu_usage', t, 50 + 40 * sin(extract(epoch from t) / 13751.0 + a.i)
             from unnest($1::uuid[]) with ordinality as a(id, i)
            cross join generate_series($2::timestamptz, $3::timestamptz - interval '1 minute', interval '1 minute') as t`,
          [ids, start, end],
        );
        await pool.query(
          `insert into agent_metric_rollup_marks (name, bucket) select 'cpu_usage', h from generate_series($1::timestamptz, $2::timestamptz - interval '1 hour', interval '1 hour') as h`,
          [start, end],
        );
      }
    });
    log.info('metrics_query: seeded', { ms: seed.ms });
    const rollup = await timed(() => rollUpMarked(db));
    const rollupRows = Number((await pool.query<{ n: string }>('select count(*) as n from agent_metric_rollups')).rows[0]!.n);
    log.info('metrics_query: rolled up', { ms: rollup.ms, hours: rollup.value, rows: rollupRows });
    await pool.query('vacuum analyze agent_metrics');
    await pool.query('vacuum analyze agent_metric_rollups');
    await pool.query('vacuum analyze agent_metric_rollup_marks');

    const body = { metrics: ['cpu_usage'], from: new Date(from).toISOString(), to: new Date(to).toISOString(), step: 'PT1H', aggregation: 'avg' as const, group_by: 'platform' };
    const post = async (json: unknown) => {
      const res = await fetch(`${o.url}${METRICS_QUERY_PATH}`, { method: 'POST', headers: { ...o.headers, 'content-type': 'application/json' }, body: JSON.stringify(json) });
      const answer = (await res.json()) as { data?: { series: Array<{ points: unknown[] }> } };
      if (res.status !== 200 || !answer.data) throw new Error(`${METRICS_QUERY_PATH} answered ${res.status}: ${JSON.stringify(answer).slice(0, 300)}`);
      return answer.data;
    };
    const first = await post(body);
    const latencies: number[] = [];
    for (let i = 0; i < RUNS; i++) latencies.push((await timed(() => post(body))).ms);
    latencies.sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)]!;

    // Explained as Opsdeck runs it: in its snapshot, with its marked hours.
    const plan = await inQuerySnapshot(db, async (trx) => {
      const queryPlan = planQuery([o.teamId], body);
      const compiled = pointsStatement(trx, queryPlan, await markedHours(trx, queryPlan)).compile(trx);
      const { rows } = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain (analyze, buffers) ${compiled.sql}`, [...compiled.parameters]));
      return rows.map((r) => r['QUERY PLAN']);
    });
    const execution = Number(/Execution Time: ([\d.]+) ms/.exec(plan.join('\n'))?.[1] ?? NaN);

    const p95 = await timed(() =>
      fetch(`${o.url}${METRICS_QUERY_PATH}`, {
        method: 'POST',
        headers: { ...o.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, from: new Date(to - DAY_MS).toISOString(), aggregation: 'p95' }),
      }).then(async (res) => (await res.arrayBuffer(), res.status)),
    );
    const report: MetricsQueryReport = {
      agents: ids.length,
      days: o.days,
      samples: ids.length * o.days * 1440,
      seed_ms: seed.ms,
      rollup_ms: rollup.ms,
      rollup_rows: rollupRows,
      path: METRICS_QUERY_PATH,
      body,
      runs: RUNS,
      latency_median_ms: median,
      latency_max_ms: latencies.at(-1)!,
      series: first.series.length,
      points: first.series.reduce((n, s) => n + s.points.length, 0),
      target_ms: METRICS_QUERY_TARGET_MS,
      met: median < METRICS_QUERY_TARGET_MS,
      execution_ms: execution,
      plan,
      p95_one_day_ms: p95.value === 200 ? p95.ms : null,
      p95_one_day_status: p95.value,
    };
    log.info('metrics_query', { median_ms: report.latency_median_ms, max_ms: report.latency_max_ms, execution_ms: execution, p95_one_day_ms: p95.ms, met: report.met });
    return report;
  } finally {
    await db.destroy();
  }
}

export function metricsQueryLines(m: MetricsQueryReport): string[] {
  return [
    `Fleet-wide metric query (POST ${m.path}: ${m.days} days, 1-hour buckets, avg, by platform):`,
    `  data: ${m.agents.toLocaleString('en-US')} agents × ${m.days} days of 1-minute samples = ${m.samples.toLocaleString('en-US')} samples (seeded in ${Math.round(m.seed_ms)} ms; rolled up into ${m.rollup_rows.toLocaleString('en-US')} hourly rows in ${Math.round(m.rollup_ms)} ms)`,
    `  answer: ${m.series} series, ${m.points} points; over HTTP median ${m.latency_median_ms} ms, slowest ${m.latency_max_ms} ms of ${m.runs} (target < ${m.target_ms} ms: ${m.met ? 'met' : 'NOT met'})`,
    `  p95 over one day (from the samples): ${m.p95_one_day_ms === null ? `refused (${m.p95_one_day_status})` : `${m.p95_one_day_ms} ms`}`,
    `  EXPLAIN (ANALYZE, BUFFERS), execution ${m.execution_ms} ms:`,
    ...m.plan.map((line) => `    ${line}`),
  ];
}
