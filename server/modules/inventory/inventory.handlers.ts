import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { InventoryService } from './inventory.service.ts';

type InventoryHandlers = Pick<
  HandlerMap,
  'reportInventory' | 'reportMetrics' | 'listAgentPackages' | 'listAgentServices' | 'getAgentHardware' | 'getAgentMetrics' | 'searchPackages' | 'listPackageUpdates'
>;

export function inventoryHandlers(inventory: InventoryService): InventoryHandlers {
  return {
    async reportInventory({ body, ctx }) {
      return { status: 200, body: { data: await inventory.report(requireCaller(ctx), body) } };
    },
    async reportMetrics({ body, ctx }) {
      await inventory.reportMetrics(requireCaller(ctx), body);
      return { status: 204 };
    },
    async listAgentPackages({ params, query, ctx }) {
      const { items, pagination } = await inventory.packages(requireCaller(ctx), params.agent_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async listAgentServices({ params, query, ctx }) {
      const { items, pagination } = await inventory.services(requireCaller(ctx), params.agent_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async getAgentHardware({ params, ctx }) {
      return { status: 200, body: { data: await inventory.hardware(requireCaller(ctx), params.agent_id) } };
    },
    async getAgentMetrics({ params, query, ctx }) {
      return { status: 200, body: { data: await inventory.metrics(requireCaller(ctx), params.agent_id, query) } };
    },
    async searchPackages({ query, ctx }) {
      const { items, pagination } = await inventory.search(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async listPackageUpdates({ query, ctx }) {
      const { items, pagination } = await inventory.updates(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
  };
}
