import { requireCaller } from '../../auth/caller.ts';
import { roles } from '../../auth/permissions.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { UserService } from './users.service.ts';

type UserHandlers = Pick<HandlerMap, 'listUsers' | 'createUser' | 'getUser' | 'updateUser' | 'deleteUser' | 'listRoles'>;

export function userHandlers(users: UserService): UserHandlers {
  return {
    async listUsers({ query, ctx }) {
      const { items, pagination } = await users.list(query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createUser({ body }) {
      const user = await users.create(body);
      return { status: 201, headers: { Location: `/api/v1/admin/users/${user.id}` }, body: { data: user } };
    },
    async getUser({ params }) {
      return { status: 200, body: { data: await users.get(params.user_id) } };
    },
    async updateUser({ params, body, ctx }) {
      return { status: 200, body: { data: await users.update(requireCaller(ctx), params.user_id, body, ctx.expectedUpdatedAt) } };
    },
    async deleteUser({ params, ctx }) {
      await users.delete(requireCaller(ctx), params.user_id, ctx.expectedUpdatedAt);
      return { status: 204 };
    },
    async listRoles() {
      return { status: 200, body: { data: [...roles] } };
    },
  };
}
