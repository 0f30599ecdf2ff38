// `GET /metrics` (`getMetrics`): this process's Prometheus metrics (observability/metrics.ts). The pipeline
// has already checked METRICS_TOKEN (`metricsToken`) when one is configured.
import type { HandlerMap } from '../../http/operation-types.ts';
import type { Metrics } from '../../observability/metrics.ts';

export function metricsHandlers(metrics: Pick<Metrics, 'scrape'>): Pick<HandlerMap, 'getMetrics'> {
  return {
    async getMetrics() {
      return { status: 200, text: { mediaType: 'text/plain; version=0.0.4', body: await metrics.scrape() } };
    },
  };
}
