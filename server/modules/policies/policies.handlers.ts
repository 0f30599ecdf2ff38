import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { PolicyService } from './policies.service.ts';

type PolicyHandlers = Pick<HandlerMap, 'listPolicies' | 'createPolicy' | 'getPolicy' | 'updatePolicy' | 'deletePolicy'>;

export function policyHandlers(policies: PolicyService): PolicyHandlers {
  return {
    async listPolicies({ query, ctx }) {
      const { items, pagination } = await policies.list(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createPolicy({ body, ctx }) {
      const policy = await policies.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/config/policies/${policy.id}` }, body: { data: policy } };
    },
    async getPolicy({ params, ctx }) {
      return { status: 200, body: { data: await policies.get(requireCaller(ctx), params.policy_id) } };
    },
    async updatePolicy({ params, body, ctx }) {
      return { status: 200, body: { data: await policies.patch(requireCaller(ctx), params.policy_id, body, ctx) } };
    },
    async deletePolicy({ params, ctx }) {
      await policies.delete(requireCaller(ctx), params.policy_id, ctx);
      return { status: 204 };
    },
  };
}
