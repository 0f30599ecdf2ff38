import type { HandlerMap } from '../../http/operation-types.ts';
import type { HealthMonitor } from '../../health.ts';
import type { Backend } from '../../db/database.ts';
import { spec } from '../../contract.ts';
import { version as serverVersion } from '../../version.ts';

type SystemHandlers = Pick<HandlerMap, 'getLiveness' | 'getReadiness' | 'getSystemVersion'>;

export function systemHandlers(health: HealthMonitor, backend: Backend, startedAt: Date): SystemHandlers {
  return {
    async getLiveness() {
      return { status: 200, body: { data: { status: 'ok', checks: [] } } };
    },
    async getReadiness() {
      const report = await health.readiness();
      return report.status === 'ok' ? { status: 200, body: { data: report } } : { status: 503, body: { data: report } };
    },
    async getSystemVersion() {
      return {
        status: 200,
        body: {
          data: {
            name: 'opsdeck',
            version: serverVersion,
            api_version: spec.info.version,
            node_version: process.version,
            database: backend,
            started_at: startedAt.toISOString(),
          },
        },
      };
    },
  };
}
