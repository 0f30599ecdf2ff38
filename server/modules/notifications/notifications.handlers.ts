import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { NotificationService } from './notifications.service.ts';

type NotificationHandlers = Pick<
  HandlerMap,
  | 'listNotificationChannels'
  | 'createNotificationChannel'
  | 'getNotificationChannel'
  | 'updateNotificationChannel'
  | 'deleteNotificationChannel'
  | 'testNotificationChannel'
  | 'listAlertSilences'
  | 'createAlertSilence'
  | 'getAlertSilence'
  | 'updateAlertSilence'
  | 'deleteAlertSilence'
>;

const CHANNELS = '/api/v1/metrics/alerts/notifications';
const SILENCES = '/api/v1/metrics/alerts/silences';

export function notificationHandlers(notifications: NotificationService): NotificationHandlers {
  return {
    async listNotificationChannels({ query, ctx }) {
      const { items, pagination } = await notifications.listChannels(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createNotificationChannel({ body, ctx }) {
      const channel = await notifications.createChannel(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `${CHANNELS}/${channel.id}` }, body: { data: channel } };
    },
    async getNotificationChannel({ params, ctx }) {
      return { status: 200, body: { data: await notifications.getChannel(requireCaller(ctx), params.channel_id) } };
    },
    async updateNotificationChannel({ params, body, ctx }) {
      return { status: 200, body: { data: await notifications.updateChannel(requireCaller(ctx), params.channel_id, body, ctx) } };
    },
    async deleteNotificationChannel({ params, ctx }) {
      await notifications.deleteChannel(requireCaller(ctx), params.channel_id, ctx);
      return { status: 204 };
    },
    async testNotificationChannel({ params, ctx }) {
      const queued = await notifications.testChannel(requireCaller(ctx), params.channel_id);
      return { status: 202, body: { data: queued } };
    },
    async listAlertSilences({ query, ctx }) {
      const { items, pagination } = await notifications.listSilences(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createAlertSilence({ body, ctx }) {
      const silence = await notifications.createSilence(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `${SILENCES}/${silence.id}` }, body: { data: silence } };
    },
    async getAlertSilence({ params, ctx }) {
      return { status: 200, body: { data: await notifications.getSilence(requireCaller(ctx), params.silence_id) } };
    },
    async updateAlertSilence({ params, body, ctx }) {
      return { status: 200, body: { data: await notifications.updateSilence(requireCaller(ctx), params.silence_id, body, ctx) } };
    },
    async deleteAlertSilence({ params, ctx }) {
      await notifications.deleteSilence(requireCaller(ctx), params.silence_id, ctx);
      return { status: 204 };
    },
  };
}
