import type { components } from '../../../generated/openapi.d.ts';
import type { PointRow, QueryPlan } from './metric-queries.repository.ts';

type Schemas = components['schemas'];

/** Rows ordered by metric, group and time, as one series per metric and group. */
export function toMetricQueryResult(plan: QueryPlan, rows: readonly PointRow[]): Schemas['MetricQueryResult'] {
  const series: Schemas['MetricQuerySeries'][] = [];
  let current: Schemas['MetricQuerySeries'] | undefined;
  for (const row of rows) {
    if (!current || current.metric !== row.metric || current.group !== row.group) {
      current = { metric: row.metric, group: row.group, group_name: row.group_name, points: [] };
      series.push(current);
    }
    current.points.push({ at: row.at.toISOString(), value: row.value, samples: row.samples });
  }
  return {
    from: plan.from.toISOString(),
    to: plan.to.toISOString(),
    step_seconds: plan.stepSeconds,
    aggregation: plan.aggregation,
    group_by: plan.groupBy,
    series,
  };
}
