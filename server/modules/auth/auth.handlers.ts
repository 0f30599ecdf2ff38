import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import type { AuthService } from './auth.service.ts';

type AuthHandlers = Pick<HandlerMap, 'login' | 'refreshToken' | 'logout' | 'getProfile' | 'updateProfile' | 'changePassword'>;

export function authHandlers(auth: AuthService): AuthHandlers {
  return {
    async login({ body, ctx }) {
      return { status: 200, body: { data: await auth.login(body.email, body.password, ctx.clientIp) } };
    },
    async refreshToken({ body }) {
      return { status: 200, body: { data: await auth.refresh(body.refresh_token) } };
    },
    async logout({ body }) {
      await auth.logout(body.refresh_token);
      return { status: 204 };
    },
    async getProfile({ ctx }) {
      return { status: 200, body: { data: await auth.profile(requireCaller(ctx)) } };
    },
    async updateProfile({ body, ctx }) {
      return { status: 200, body: { data: await auth.updateProfile(requireCaller(ctx), body, ctx.expectedUpdatedAt) } };
    },
    async changePassword({ body, ctx }) {
      await auth.changePassword(requireCaller(ctx), body);
      return { status: 204 };
    },
  };
}
