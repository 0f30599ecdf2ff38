import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { AgentProtocolService } from './agent-protocol.service.ts';

type ProtocolHandlers = Pick<
  HandlerMap,
  'listEnrollmentTokens' | 'createEnrollmentToken' | 'deleteEnrollmentToken' | 'enrollAgent' | 'agentHeartbeat' | 'claimTasks' | 'reportTaskProgress'
>;

export function agentProtocolHandlers(protocol: AgentProtocolService): ProtocolHandlers {
  return {
    async listEnrollmentTokens({ params, query, ctx }) {
      const { items, pagination } = await protocol.listTokens(requireCaller(ctx), params.team_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createEnrollmentToken({ params, body, ctx }) {
      const token = await protocol.createToken(requireCaller(ctx), params.team_id, body);
      return { status: 201, headers: { Location: `/api/v1/teams/${params.team_id}/enrollment-tokens/${token.id}` }, body: { data: token } };
    },
    async deleteEnrollmentToken({ params, ctx }) {
      await protocol.revokeToken(requireCaller(ctx), params.team_id, params.token_id);
      return { status: 204 };
    },
    async enrollAgent({ body }) {
      const enrollment = await protocol.enroll(body);
      return { status: 201, headers: { Location: `/api/v1/agents/${enrollment.agent.id}` }, body: { data: enrollment } };
    },
    async agentHeartbeat({ ctx }) {
      return { status: 200, body: { data: await protocol.heartbeat(requireCaller(ctx)) } };
    },
    async claimTasks({ body, ctx }) {
      const claimed = await protocol.claim(requireCaller(ctx), body.max_tasks ?? 1);
      return {
        status: 200,
        body: {
          data: claimed,
          pagination: { mode: 'cursor', per_page: body.max_tasks ?? 1, has_next: false, has_prev: false, next_cursor: null, links: { self: ctx.url, first: ctx.url, prev: null, next: null } },
        },
      };
    },
    async reportTaskProgress({ params, body, ctx }) {
      return { status: 200, body: { data: await protocol.progress(requireCaller(ctx), params.task_id, body) } };
    },
  };
}
