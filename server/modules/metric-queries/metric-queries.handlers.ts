import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import type { MetricQueryService } from './metric-queries.service.ts';

export function metricQueryHandlers(queries: MetricQueryService): Pick<HandlerMap, 'queryMetrics'> {
  return {
    async queryMetrics({ body, ctx }) {
      return { status: 200, body: { data: await queries.query(requireCaller(ctx), body) } };
    },
  };
}
