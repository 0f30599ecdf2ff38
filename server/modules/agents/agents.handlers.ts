import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader, pickFields } from '../../http/pagination.ts';
import type { AgentService } from './agents.service.ts';

type AgentHandlers = Pick<HandlerMap, 'listAgents' | 'getAgent' | 'createAgent' | 'replaceAgent' | 'updateAgent' | 'deleteAgent'>;

export function agentHandlers(agents: AgentService): AgentHandlers {
  return {
    async listAgents({ query, ctx }) {
      const { items, pagination } = await agents.list(query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((agent) => pickFields(agent, query.fields)), pagination },
      };
    },
    async getAgent({ params }) {
      return { status: 200, body: { data: await agents.get(params.agent_id) } };
    },
    async createAgent({ body }) {
      const agent = await agents.create(body);
      return { status: 201, headers: { Location: `/api/v1/agents/${agent.id}` }, body: { data: agent } };
    },
    async replaceAgent({ params, body }) {
      return { status: 200, body: { data: await agents.replace(params.agent_id, body) } };
    },
    async updateAgent({ params, body }) {
      return { status: 200, body: { data: await agents.patch(params.agent_id, body) } };
    },
    async deleteAgent({ params }) {
      await agents.delete(params.agent_id);
      return { status: 204 };
    },
  };
}
