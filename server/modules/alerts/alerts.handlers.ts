import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader, pickFields } from '../../http/pagination.ts';
import type { AlertService } from './alerts.service.ts';

type AlertHandlers = Pick<HandlerMap, 'listAlerts' | 'createAlert' | 'createAlerts' | 'getAlert' | 'acknowledgeAlert' | 'resolveAlert'>;

export function alertHandlers(alerts: AlertService): AlertHandlers {
  return {
    async listAlerts({ query, ctx }) {
      const { items, pagination } = await alerts.list(requireCaller(ctx), query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((alert) => pickFields(alert, query.fields)), pagination },
      };
    },
    async createAlert({ body, ctx }) {
      const alert = await alerts.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/alerts/${alert.id}` }, body: { data: alert } };
    },
    async createAlerts({ body, ctx }) {
      return { status: 200, body: { data: await alerts.createMany(requireCaller(ctx), body.alerts, ctx) } };
    },
    async getAlert({ params, ctx }) {
      return { status: 200, body: { data: await alerts.get(requireCaller(ctx), params.alert_id) } };
    },
    async acknowledgeAlert({ params, ctx }) {
      return { status: 200, body: { data: await alerts.acknowledge(requireCaller(ctx), params.alert_id) } };
    },
    async resolveAlert({ params, ctx }) {
      return { status: 200, body: { data: await alerts.resolve(requireCaller(ctx), params.alert_id) } };
    },
  };
}
