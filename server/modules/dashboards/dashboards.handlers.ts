import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { DashboardService } from './dashboards.service.ts';

type DashboardHandlers = Pick<HandlerMap, 'listDashboards' | 'createDashboard' | 'getDashboard' | 'updateDashboard' | 'deleteDashboard' | 'getDashboardData'>;

export function dashboardHandlers(dashboards: DashboardService): DashboardHandlers {
  return {
    async listDashboards({ query, ctx }) {
      const { items, pagination } = await dashboards.list(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createDashboard({ body, ctx }) {
      const dashboard = await dashboards.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/metrics/dashboards/${dashboard.id}` }, body: { data: dashboard } };
    },
    async getDashboard({ params, ctx }) {
      return { status: 200, body: { data: await dashboards.get(requireCaller(ctx), params.dashboard_id) } };
    },
    async updateDashboard({ params, body, ctx }) {
      return { status: 200, body: { data: await dashboards.patch(requireCaller(ctx), params.dashboard_id, body, ctx) } };
    },
    async getDashboardData({ params, ctx }) {
      return { status: 200, body: { data: await dashboards.data(requireCaller(ctx), params.dashboard_id) } };
    },
    async deleteDashboard({ params, ctx }) {
      await dashboards.delete(requireCaller(ctx), params.dashboard_id, ctx);
      return { status: 204 };
    },
  };
}
