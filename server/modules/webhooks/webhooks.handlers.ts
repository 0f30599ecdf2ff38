import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { WebhookService } from './webhooks.service.ts';

type WebhookHandlers = Pick<
  HandlerMap,
  | 'listWebhooks'
  | 'createWebhook'
  | 'getWebhook'
  | 'updateWebhook'
  | 'deleteWebhook'
  | 'pingWebhook'
  | 'listWebhookDeliveries'
  | 'getWebhookDelivery'
  | 'redeliverWebhookDelivery'
>;

const deliveryPath = (webhookId: string, deliveryId: string) => `/api/v1/webhooks/${webhookId}/deliveries/${deliveryId}`;

export function webhookHandlers(webhooks: WebhookService): WebhookHandlers {
  return {
    async listWebhooks({ query, ctx }) {
      const { items, pagination } = await webhooks.list(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createWebhook({ body, ctx }) {
      const webhook = await webhooks.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/webhooks/${webhook.id}` }, body: { data: webhook } };
    },
    async getWebhook({ params, ctx }) {
      return { status: 200, body: { data: await webhooks.get(requireCaller(ctx), params.webhook_id) } };
    },
    async updateWebhook({ params, body, ctx }) {
      return { status: 200, body: { data: await webhooks.update(requireCaller(ctx), params.webhook_id, body, ctx.expectedUpdatedAt) } };
    },
    async deleteWebhook({ params, ctx }) {
      await webhooks.delete(requireCaller(ctx), params.webhook_id, ctx.expectedUpdatedAt);
      return { status: 204 };
    },
    async pingWebhook({ params, ctx }) {
      const delivery = await webhooks.ping(requireCaller(ctx), params.webhook_id);
      return { status: 202, headers: { Location: deliveryPath(delivery.webhook_id, delivery.id) }, body: { data: delivery } };
    },
    async listWebhookDeliveries({ params, query, ctx }) {
      const { items, pagination } = await webhooks.listDeliveries(requireCaller(ctx), params.webhook_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async getWebhookDelivery({ params, ctx }) {
      return { status: 200, body: { data: await webhooks.getDelivery(requireCaller(ctx), params.webhook_id, params.delivery_id) } };
    },
    async redeliverWebhookDelivery({ params, ctx }) {
      const delivery = await webhooks.redeliver(requireCaller(ctx), params.webhook_id, params.delivery_id);
      return { status: 202, headers: { Location: deliveryPath(delivery.webhook_id, delivery.id) }, body: { data: delivery } };
    },
  };
}
