import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { TeamService } from './teams.service.ts';

type TeamHandlers = Pick<
  HandlerMap,
  'listTeams' | 'createTeam' | 'getTeam' | 'updateTeam' | 'deleteTeam' | 'listTeamMembers' | 'addTeamMember' | 'removeTeamMember'
>;

export function teamHandlers(teams: TeamService): TeamHandlers {
  return {
    async listTeams({ query, ctx }) {
      const { items, pagination } = await teams.list(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createTeam({ body, ctx }) {
      const team = await teams.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/teams/${team.id}` }, body: { data: team } };
    },
    async getTeam({ params, ctx }) {
      return { status: 200, body: { data: await teams.get(requireCaller(ctx), params.team_id) } };
    },
    async updateTeam({ params, body, ctx }) {
      return { status: 200, body: { data: await teams.update(requireCaller(ctx), params.team_id, body, ctx.expectedUpdatedAt) } };
    },
    async deleteTeam({ params, ctx }) {
      await teams.delete(requireCaller(ctx), params.team_id, ctx.expectedUpdatedAt);
      return { status: 204 };
    },
    async listTeamMembers({ params, query, ctx }) {
      const { items, pagination } = await teams.members(requireCaller(ctx), params.team_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async addTeamMember({ params, body, ctx }) {
      const member = await teams.addMember(requireCaller(ctx), params.team_id, body.user_id);
      return { status: 201, headers: { Location: `/api/v1/teams/${params.team_id}/members/${member.user_id}` }, body: { data: member } };
    },
    async removeTeamMember({ params, ctx }) {
      await teams.removeMember(requireCaller(ctx), params.team_id, params.user_id);
      return { status: 204 };
    },
  };
}
