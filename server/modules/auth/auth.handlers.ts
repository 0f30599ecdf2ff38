import { requireCaller } from '../../auth/caller.ts';
import { HELP_URL } from '../../http/envelope.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import type { AuthService } from './auth.service.ts';

type AuthHandlers = Pick<HandlerMap, 'login' | 'refreshToken' | 'logout' | 'getProfile' | 'updateProfile' | 'changePassword'>;

export function authHandlers(auth: AuthService): AuthHandlers {
  return {
    async login({ body, ctx }) {
      const result = await auth.login(body.email, body.password, ctx.clientIp);
      if ('mfa' in result) {
        // The password was right; the second step is `loginMfa` (auth.totp.ts).
        const error = { code: 'AUTH_MFA_REQUIRED' as const, message: 'This account has a second factor; complete the login at loginMfa with a TOTP code or a recovery code', help_url: HELP_URL };
        return { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="opsdeck"' }, body: { error, mfa: result.mfa } };
      }
      return { status: 200, body: { data: result } };
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
