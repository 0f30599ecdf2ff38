import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader, pickFields } from '../../http/pagination.ts';
import type { AgentService } from './agents.service.ts';

type AgentHandlers = Pick<HandlerMap, 'listAgents' | 'listAgentsV2' | 'getAgentSummary' | 'getAgent' | 'createAgent' | 'replaceAgent' | 'updateAgent' | 'deleteAgent'>;

export function agentHandlers(agents: AgentService): AgentHandlers {
  return {
    async listAgents({ query, ctx }) {
      const { items, pagination } = await agents.list(requireCaller(ctx), query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((agent) => pickFields(agent, query.fields)), pagination },
      };
    },
    async listAgentsV2({ query, ctx }) {
      const { items, pagination, summary } = await agents.listWithGroups(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination, summary } };
    },
    async getAgentSummary({ query, ctx }) {
      return { status: 200, body: { data: await agents.summary(requireCaller(ctx), query.team_id, query.group_id) } };
    },
    async getAgent({ params, ctx }) {
      return { status: 200, body: { data: await agents.get(requireCaller(ctx), params.agent_id) } };
    },
    async createAgent({ body, ctx }) {
      const agent = await agents.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/agents/${agent.id}` }, body: { data: agent } };
    },
    async replaceAgent({ params, body, ctx }) {
      return { status: 200, body: { data: await agents.replace(requireCaller(ctx), params.agent_id, body, ctx) } };
    },
    async updateAgent({ params, body, ctx }) {
      return { status: 200, body: { data: await agents.patch(requireCaller(ctx), params.agent_id, body, ctx) } };
    },
    async deleteAgent({ params, ctx }) {
      await agents.delete(requireCaller(ctx), params.agent_id, ctx);
      return { status: 204 };
    },
  };
}
