// Fleet-wide metric queries: the request is checked against the contract's `x-metrics` bounds (range, step, points)
// before anything is read, then answered in one statement within the caller's teams. Dashboards check their panels'
// queries with the same `planQuery`.
import type { components } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { policy, type MetricsPolicy } from '../../contract.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { ApiError, type ErrorDetail } from '../../http/errors.ts';
import { toMetricQueryResult } from './metric-queries.mapper.ts';
import * as repo from './metric-queries.repository.ts';

type Schemas = components['schemas'];

/** The bounds of every query: the contract's `x-metrics` policy. */
const LIMITS = policy<MetricsPolicy>('x-metrics');
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const PERCENTILES: ReadonlySet<Schemas['MetricQueryAggregation']> = new Set(['p50', 'p95', 'p99']);
const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** A step in seconds: a whole number as is, an ISO 8601 duration of days, hours, minutes and seconds converted. */
export function stepSeconds(step: Schemas['MetricQueryStep']): number {
  if (typeof step === 'number') return step;
  const [, d = '0', h = '0', m = '0', s = '0'] = DURATION.exec(step) ?? [];
  return Number(d) * 86_400 + Number(h) * 3_600 + Number(m) * 60 + Number(s);
}

function tooLarge(field: string, message: string, value?: unknown): ApiError {
  return new ApiError('VAL_QUERY_TOO_LARGE', `Invalid field ${field}: ${message}`, {
    details: [{ field, message, ...(value === undefined ? {} : { value: value as ErrorDetail['value'] }) }],
  });
}

/**
 * The plan of a query within these teams, or a 422 naming the field (prefixed with `at`, e.g. `panels.2.query`) that is out of
 * bounds: the range (`to` after `from`, at most `query_max_range_days`), the step, and the buckets the range
 * holds times the metrics (the fewest points the answer could hold) against `query_max_points`.
 */
export function planQuery(teamIds: readonly string[], query: Schemas['MetricQuery'], at = ''): repo.QueryPlan {
  const field = (name: string) => (at ? `${at}.${name}` : name);
  const from = new Date(query.from);
  const to = new Date(query.to);
  if (to.getTime() <= from.getTime()) {
    throw new ApiError('VAL_ERROR', `Invalid field ${field('to')}: must be after from`, { details: [{ field: field('to'), message: 'must be after from', value: query.to }] });
  }
  if (to.getTime() - from.getTime() > LIMITS.query_max_range_days * DAY_MS) {
    throw tooLarge(field('to'), `the range may span at most ${LIMITS.query_max_range_days} days`, query.to);
  }
  // Percentiles read every raw sample of the range (the rollups cannot combine them): bounded before anything is read.
  if (PERCENTILES.has(query.aggregation) && to.getTime() - from.getTime() > LIMITS.query_percentile_max_range_hours * HOUR_MS) {
    throw tooLarge(
      field('to'),
      `a ${query.aggregation} query reads the raw samples: its range may span at most ${LIMITS.query_percentile_max_range_hours} hours (use avg, min or max over longer ranges, or split the range)`,
      query.to,
    );
  }
  const step = stepSeconds(query.step);
  if (step < LIMITS.query_min_step_seconds || step > LIMITS.query_max_step_seconds) {
    throw tooLarge(field('step'), `must be ${LIMITS.query_min_step_seconds} to ${LIMITS.query_max_step_seconds} seconds`, query.step);
  }
  // Buckets are aligned to the epoch, so count the ones [from, to) touches.
  const width = step * 1000;
  const buckets = Math.floor((to.getTime() - 1) / width) - Math.floor(from.getTime() / width) + 1;
  if (buckets * query.metrics.length > LIMITS.query_max_points) {
    throw tooLarge(field('step'), `${buckets} buckets of ${query.metrics.length} metric(s) exceed the ${LIMITS.query_max_points} points an answer may hold`, query.step);
  }
  const filter = query.filter ?? {};
  return {
    metrics: query.metrics,
    from,
    to,
    stepSeconds: step,
    aggregation: query.aggregation,
    groupBy: query.group_by ?? 'fleet',
    agents: {
      teamIds,
      teamId: filter.team_id,
      status: filter.status,
      platform: filter.platform,
      search: filter.search,
      groupId: filter.group_id,
    },
    agentIds: filter.agent_ids,
    labels: filter.labels,
    maxPoints: LIMITS.query_max_points,
  };
}

export class MetricQueryService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The answer within the caller's teams; `at` prefixes the fields a refusal names (a dashboard's `panels.2.query`). */
  async query(caller: Caller, query: Schemas['MetricQuery'], at = ''): Promise<Schemas['MetricQueryResult']> {
    const plan = planQuery(caller.teamIds, query, at);
    const rows = await repo.queryPoints(this.#db, plan);
    if (rows.length > plan.maxPoints) {
      const field = at ? `${at}.group_by` : 'group_by';
      throw tooLarge(field, `the answer would hold more than ${plan.maxPoints} points; narrow the range, widen the step or filter the agents`, plan.groupBy);
    }
    return toMetricQueryResult(plan, rows);
  }
}
