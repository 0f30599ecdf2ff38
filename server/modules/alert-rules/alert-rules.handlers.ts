import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { AlertRuleService } from './alert-rules.service.ts';

type AlertRuleHandlers = Pick<HandlerMap, 'listAlertRules' | 'createAlertRule' | 'getAlertRule' | 'updateAlertRule' | 'deleteAlertRule'>;

export function alertRuleHandlers(rules: AlertRuleService): AlertRuleHandlers {
  return {
    async listAlertRules({ query, ctx }) {
      const { items, pagination } = await rules.list(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createAlertRule({ body, ctx }) {
      const rule = await rules.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/metrics/alerts/rules/${rule.id}` }, body: { data: rule } };
    },
    async getAlertRule({ params, ctx }) {
      return { status: 200, body: { data: await rules.get(requireCaller(ctx), params.rule_id) } };
    },
    async updateAlertRule({ params, body, ctx }) {
      return { status: 200, body: { data: await rules.patch(requireCaller(ctx), params.rule_id, body, ctx) } };
    },
    async deleteAlertRule({ params, ctx }) {
      await rules.delete(requireCaller(ctx), params.rule_id, ctx);
      return { status: 204 };
    },
  };
}
