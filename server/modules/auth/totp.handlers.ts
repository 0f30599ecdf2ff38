import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import type { TotpService } from './auth.totp.ts';

type TotpHandlers = Pick<
  HandlerMap,
  'getTotp' | 'enrolTotp' | 'confirmTotp' | 'disableTotp' | 'regenerateRecoveryCodes' | 'loginMfa' | 'getAuthPolicy' | 'replaceAuthPolicy'
>;

export function totpHandlers(totp: TotpService): TotpHandlers {
  return {
    async getTotp({ ctx }) {
      return { status: 200, body: { data: await totp.status(requireCaller(ctx)) } };
    },
    async enrolTotp({ ctx }) {
      return { status: 200, body: { data: await totp.enrol(requireCaller(ctx)) } };
    },
    async confirmTotp({ body, ctx }) {
      return { status: 200, body: { data: await totp.confirm(requireCaller(ctx), body.code) } };
    },
    async disableTotp({ body, ctx }) {
      await totp.disable(requireCaller(ctx), body, ctx.clientIp);
      return { status: 204 };
    },
    async regenerateRecoveryCodes({ body, ctx }) {
      return { status: 200, body: { data: await totp.regenerateRecoveryCodes(requireCaller(ctx), body.code, ctx.clientIp) } };
    },
    async loginMfa({ body, ctx }) {
      return { status: 200, body: { data: await totp.completeLogin(body, ctx.clientIp) } };
    },
    async getAuthPolicy() {
      return { status: 200, body: { data: await totp.policy() } };
    },
    async replaceAuthPolicy({ body, ctx }) {
      return { status: 200, body: { data: await totp.replacePolicy(requireCaller(ctx), body, ctx.expectedUpdatedAt) } };
    },
  };
}
