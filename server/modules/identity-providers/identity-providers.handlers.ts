import { permissionsOf } from '../../auth/permissions.ts';
import type { HandlerMap, HandlerResult } from '../../http/operation-types.ts';
import type { IdentityProviderService } from './identity-providers.service.ts';

type IdentityProviderHandlers = Pick<HandlerMap, 'startOAuthSignIn' | 'completeOAuthSignIn' | 'exchangeOAuthCode'>;

/** Whether the client asked for JSON rather than to be redirected: its `Accept` names `application/json` above `text/html`. */
function wantsJson(accept: string | undefined): boolean {
  const quality = (type: string): number => {
    for (const range of (accept ?? '').split(',')) {
      const [name, ...params] = range.trim().split(';');
      if (name?.trim().toLowerCase() !== type) continue;
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const value = q === undefined ? 1 : Number(q.slice(2));
      return Number.isFinite(value) ? value : 0;
    }
    return 0;
  };
  const json = quality('application/json');
  return json > 0 && json > quality('text/html');
}

export function identityProviderHandlers(service: IdentityProviderService): IdentityProviderHandlers {
  return {
    async startOAuthSignIn({ params, query, ctx }): Promise<HandlerResult<'startOAuthSignIn'>> {
      const { url, expiresIn } = await service.start(params.provider, query?.redirect_uri);
      if (wantsJson(ctx.accept)) {
        return { status: 200, headers: { Vary: 'Accept' }, body: { data: { provider: params.provider, authorization_url: url, expires_in: expiresIn } } };
      }
      return { status: 302, headers: { Location: url, Vary: 'Accept' } };
    },
    async completeOAuthSignIn({ params, query, ctx }): Promise<HandlerResult<'completeOAuthSignIn'>> {
      const outcome = await service.complete(params.provider, query, ctx.log);
      if (outcome.kind === 'redirect') return { status: 302, headers: { Location: outcome.location } };
      return { status: 200, body: { data: outcome.code } };
    },
    async exchangeOAuthCode({ body, ctx }) {
      const { pair, user } = await service.exchange(body.provider, body.code);
      // The operation is anonymous; once it has signed a user in, the audit record names that user as its actor.
      ctx.caller = {
        userId: user.id,
        agentId: null,
        email: user.email,
        role: user.role,
        permissions: permissionsOf(user.role),
        teamIds: [],
        apiKeyId: null,
        tier: user.role === 'admin' ? 'admin' : 'authenticated',
        expiresAt: null,
      };
      return { status: 200, body: { data: pair } };
    },
  };
}
