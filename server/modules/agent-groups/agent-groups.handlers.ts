import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader, pickFields } from '../../http/pagination.ts';
import type { AgentGroupService } from './agent-groups.service.ts';

type AgentGroupHandlers = Pick<
  HandlerMap,
  | 'listAgentGroups'
  | 'createAgentGroup'
  | 'getAgentGroup'
  | 'updateAgentGroup'
  | 'deleteAgentGroup'
  | 'listAgentGroupMembers'
  | 'addAgentGroupMembers'
  | 'removeAgentGroupMember'
>;

export function agentGroupHandlers(groups: AgentGroupService): AgentGroupHandlers {
  return {
    async listAgentGroups({ query, ctx }) {
      const { items, pagination } = await groups.list(requireCaller(ctx), query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((group) => pickFields(group, query.fields)), pagination },
      };
    },
    async createAgentGroup({ body, ctx }) {
      const group = await groups.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/agent-groups/${group.id}` }, body: { data: group } };
    },
    async getAgentGroup({ params, ctx }) {
      return { status: 200, body: { data: await groups.get(requireCaller(ctx), params.group_id) } };
    },
    async updateAgentGroup({ params, body, ctx }) {
      return { status: 200, body: { data: await groups.patch(requireCaller(ctx), params.group_id, body, ctx) } };
    },
    async deleteAgentGroup({ params, ctx }) {
      await groups.delete(requireCaller(ctx), params.group_id, ctx);
      return { status: 204 };
    },
    async listAgentGroupMembers({ params, query, ctx }) {
      const { items, pagination } = await groups.members(requireCaller(ctx), params.group_id, query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((agent) => pickFields(agent, query.fields)), pagination },
      };
    },
    async addAgentGroupMembers({ params, body, ctx }) {
      return { status: 200, body: { data: await groups.addMembers(requireCaller(ctx), params.group_id, body.agent_ids) } };
    },
    async removeAgentGroupMember({ params, ctx }) {
      await groups.removeMember(requireCaller(ctx), params.group_id, params.agent_id);
      return { status: 204 };
    },
  };
}
