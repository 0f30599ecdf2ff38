// Sign-in through an identity provider: start (a state with PKCE and nonce, kept in PostgreSQL so any process
// can finish it), callback (the state spent, the code exchanged, the user matched or created by verified
// email, the team map applied, a one-time Opsdeck code made), and the exchange of that code for the same
// token pair as a password login.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components } from '../../../generated/openapi.d.ts';
import type { RoleName } from '../../auth/permissions.ts';
import { randomToken, sha256 } from '../../auth/secrets.ts';
import type { OAuthConfig, TeamMap } from '../../config.ts';
import type { Database } from '../../db/schema.ts';
import { ApiError } from '../../http/errors.ts';
import type { Logger } from '../../logger.ts';
import { GithubClient, loadOidc, OidcClient, type IdentityProviderClient, type ProviderName, type SignInChecks } from './identity-providers.clients.ts';
import * as repo from './identity-providers.repository.ts';

type TokenPair = components['schemas']['TokenPair'];

/** Issues a new session's token pair for a user (AuthService's, as `login` does). */
export type IssueSession = (user: { id: string; password_changed_at: Date }) => Promise<TokenPair>;

const ROLE_RANK: Record<RoleName, number> = { viewer: 0, operator: 1, admin: 2 };

const stateInvalid = (why: string) => new ApiError('AUTH_OAUTH_STATE_INVALID', `The sign-in state ${why}; start the sign-in again`);
const codeInvalid = () => new ApiError('AUTH_OAUTH_CODE_INVALID', 'The sign-in code is unknown, already used or expired');

interface StatePayload {
  code_verifier: string;
  nonce: string | null;
  callback_url: string;
  redirect_uri: string | null;
}

export interface CallbackQuery {
  state: string;
  code?: string | undefined;
  error?: string | undefined;
  error_description?: string | undefined;
  error_uri?: string | undefined;
  iss?: string | undefined;
  session_state?: string | undefined;
  scope?: string | undefined;
}

export type CallbackOutcome =
  | { kind: 'redirect'; location: string }
  | { kind: 'code'; code: components['schemas']['OAuthSignInCode'] };

export class IdentityProviderService {
  readonly #db: Kysely<Database>;
  readonly #config: OAuthConfig;
  readonly #publicUrl: string;
  readonly #issue: IssueSession;
  readonly #clients: Partial<Record<ProviderName, IdentityProviderClient>>;
  readonly #teamMaps: Record<ProviderName, TeamMap>;

  constructor(db: Kysely<Database>, config: OAuthConfig, publicUrl: string | undefined, issue: IssueSession) {
    this.#db = db;
    this.#config = config;
    this.#publicUrl = (publicUrl ?? '').replace(/\/+$/, '');
    this.#issue = issue;
    this.#clients = {
      ...(config.github ? { github: new GithubClient(config.github, config.providerTimeoutMs) } : {}),
      ...(config.oidc ? { oidc: new OidcClient(config.oidc, config.providerTimeoutMs) } : {}),
    };
    this.#teamMaps = {
      // GitHub's logins and team slugs are compared regardless of case.
      github: Object.fromEntries(Object.entries(config.github?.teamMap ?? {}).map(([group, grant]) => [group.toLowerCase(), grant])),
      oidc: config.oidc?.teamMap ?? {},
    };
  }

  #client(provider: ProviderName): IdentityProviderClient {
    const client = this.#clients[provider];
    if (!client) throw new ApiError('AUTH_PROVIDER_NOT_CONFIGURED', `Sign-in through ${provider} is not configured on this server`);
    return client;
  }

  /** The provider's authorization URL for a new sign-in; `redirectUri` must be on the allow-list. */
  async start(provider: ProviderName, redirectUri: string | undefined): Promise<{ url: string; expiresIn: number }> {
    const client = this.#client(provider);
    if (redirectUri !== undefined && !this.#config.redirectUris.includes(redirectUri)) {
      throw new ApiError('VAL_REDIRECT_URI_NOT_ALLOWED', 'redirect_uri is not one of the allowed redirect URIs (OAUTH_REDIRECT_URIS)', {
        details: [{ field: 'redirect_uri', message: 'not one of the allowed redirect URIs' }],
      });
    }
    const oidc = await loadOidc();
    const checks: SignInChecks = { state: oidc.randomState(), codeVerifier: oidc.randomPKCECodeVerifier(), nonce: provider === 'oidc' ? oidc.randomNonce() : undefined };
    const callbackUrl = `${this.#publicUrl}/api/v1/auth/oauth/${provider}/callback`;
    const url = await client.authorizationUrl(callbackUrl, checks);
    const payload: StatePayload = { code_verifier: checks.codeVerifier, nonce: checks.nonce ?? null, callback_url: callbackUrl, redirect_uri: redirectUri ?? null };
    await repo.insertGrant(this.#db, { id: sha256(checks.state), kind: 'state', provider, payload, expiresAt: new Date(Date.now() + this.#config.stateTtlSeconds * 1000) });
    return { url: url.href, expiresIn: this.#config.stateTtlSeconds };
  }

  async complete(provider: ProviderName, query: CallbackQuery, log: Logger): Promise<CallbackOutcome> {
    const client = this.#client(provider);
    // Spent before anything else: a state is good for one callback, whatever becomes of it.
    const grant = await repo.spendGrant(this.#db, sha256(query.state), 'state');
    if (!grant || grant.provider !== provider) throw stateInvalid('is unknown or already used');
    if (grant.expiresAt.getTime() <= Date.now()) throw stateInvalid('has expired');
    const saved = grant.payload as unknown as StatePayload;

    const callback = new URL(saved.callback_url);
    for (const [name, value] of Object.entries(query)) if (typeof value === 'string') callback.searchParams.set(name, value);
    const identity = await client.complete(callback, { state: query.state, codeVerifier: saved.code_verifier, nonce: saved.nonce ?? undefined });
    if (!identity.verifiedEmail) throw new ApiError('AUTH_EMAIL_UNVERIFIED', `The identity provider (${provider}) has no verified email for this user`);

    const grants = this.#grantsOf(provider, identity.groups);
    const user = await this.#db.transaction().execute(async (trx) => {
      let row = await repo.findUserByEmail(trx, identity.verifiedEmail!);
      if (!row) {
        const role = grants.role ?? 'viewer';
        row = await repo.insertUser(trx, { id: uuidv7(), email: identity.verifiedEmail!, name: (identity.name ?? identity.verifiedEmail!).slice(0, 200), role });
        // Another sign-in created the same user in between: use it.
        row ??= await repo.findUserByEmail(trx, identity.verifiedEmail!);
      }
      if (!row?.active) return undefined;
      if (grants.role && ROLE_RANK[grants.role] > ROLE_RANK[row.role]) await repo.setRole(trx, row.id, grants.role);
      const teams = await repo.findTeams(trx, grants.teams);
      const missing = grants.teams.filter((ref) => !teams.some((t) => t.id === ref || t.name.toLowerCase() === ref.toLowerCase()));
      if (missing.length) log.warn({ provider, missing }, 'the team map names teams that do not exist; skipped');
      await repo.addMemberships(trx, row.id, teams.map((t) => t.id));
      return row;
    });
    if (!user) throw new ApiError('AUTH_INVALID_CREDENTIALS', 'The identity provider signed in a user who is deactivated in Opsdeck');

    const code = `osc_${randomToken(32)}`;
    await repo.insertGrant(this.#db, {
      id: sha256(code),
      kind: 'code',
      provider,
      payload: { user_id: user.id, subject: identity.subject },
      expiresAt: new Date(Date.now() + this.#config.codeTtlSeconds * 1000),
    });
    if (saved.redirect_uri) {
      const location = new URL(saved.redirect_uri);
      location.searchParams.set('code', code);
      location.searchParams.set('provider', provider);
      return { kind: 'redirect', location: location.href };
    }
    return { kind: 'code', code: { provider, code, expires_in: this.#config.codeTtlSeconds } };
  }

  /** The one-time code for a token pair, once; with the user it signed in (for the audit record). */
  async exchange(provider: ProviderName, code: string): Promise<{ pair: TokenPair; user: { id: string; email: string; role: RoleName } }> {
    const grant = await repo.spendGrant(this.#db, sha256(code), 'code');
    if (!grant || grant.provider !== provider || grant.expiresAt.getTime() <= Date.now()) throw codeInvalid();
    const user = await repo.findUserById(this.#db, String(grant.payload.user_id));
    if (!user?.active) throw new ApiError('AUTH_INVALID_CREDENTIALS', 'The user of this sign-in is deactivated');
    return { pair: await this.#issue(user), user };
  }

  /** The teams and the highest role the provider's groups are mapped to. */
  #grantsOf(provider: ProviderName, groups: readonly string[]): { teams: string[]; role: RoleName | undefined } {
    const map = this.#teamMaps[provider];
    const teams = new Set<string>();
    let role: RoleName | undefined;
    for (const group of groups) {
      const grant = map[group];
      if (!grant) continue;
      teams.add(grant.team);
      if (!role || ROLE_RANK[grant.role] > ROLE_RANK[role]) role = grant.role;
    }
    return { teams: [...teams], role };
  }
}
