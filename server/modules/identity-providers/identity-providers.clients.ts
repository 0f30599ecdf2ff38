// The identity providers, through openid-client: GitHub's OAuth2 (its endpoints are configuration, so a
// GitHub Enterprise server or a test's fake works alike; the user, verified emails, organisations and teams
// come from GitHub's REST API) and a generic OpenID Connect issuer (discovery; the ID token is validated by
// openid-client, nonce included). Each answers who signed in; the service decides what that means in Opsdeck.
import type * as Oidc from 'openid-client';
import type { GithubProviderConfig, OidcProviderConfig } from '../../config.ts';
import { ApiError } from '../../http/errors.ts';

export type ProviderName = 'github' | 'oidc';

/** openid-client, loaded on the first sign-in through a provider: a server without one does not hold it (6 MB when loaded alone). */
let oidcLibrary: Promise<typeof Oidc> | undefined;
/** The library once loaded: only its calls throw its errors, so `providerFailure` needs it only after a load. */
let oidcLoaded: typeof Oidc | undefined;
export function loadOidc(): Promise<typeof Oidc> {
  return (oidcLibrary ??= import('openid-client').then((library) => (oidcLoaded = library)));
}

/** Who the provider says signed in. */
export interface ProviderIdentity {
  /** The provider's stable id of the user. */
  subject: string;
  /** The verified email Opsdeck matches on; `undefined` when the provider vouches for none. */
  verifiedEmail: string | undefined;
  name: string | undefined;
  /** The groups the team map is read against: GitHub `org` and `org/team` (lower case), OIDC group names. */
  groups: string[];
}

/** What a sign-in keeps between its start and its callback. */
export interface SignInChecks {
  state: string;
  codeVerifier: string;
  nonce: string | undefined;
}

export interface IdentityProviderClient {
  readonly name: ProviderName;
  authorizationUrl(callbackUrl: string, checks: SignInChecks): Promise<URL>;
  /** `callback`: the callback URL with the query the provider sent the browser back with. */
  complete(callback: URL, checks: SignInChecks): Promise<ProviderIdentity>;
}

const unavailable = (provider: ProviderName, why: string): ApiError =>
  new ApiError('EXT_IDENTITY_PROVIDER_UNAVAILABLE', `The identity provider (${provider}) is not available: ${why}`, { headers: { 'Retry-After': '5' } });

/** Whether an error (or one of its causes) is the network failing or a request timing out. */
function isNetworkFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth += 1) {
    const { name, code, message } = e as { name?: string; code?: string; message?: string };
    if (name === 'TimeoutError' || name === 'AbortError') return true;
    if (typeof code === 'string' && /^(ECONN|ENOTFOUND|EAI_|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|UND_ERR)/.test(code)) return true;
    if (e instanceof TypeError && message === 'fetch failed') return true;
  }
  return false;
}

/** A provider failure as the answer it deserves: the provider away → 503; the provider refusing → 4xx. */
export function providerFailure(provider: ProviderName, err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (isNetworkFailure(err)) return unavailable(provider, 'it did not answer in time');
  if (oidcLoaded && err instanceof oidcLoaded.AuthorizationResponseError) {
    return new ApiError('AUTH_OAUTH_DENIED', `The identity provider refused the sign-in (${err.error.slice(0, 64)})`);
  }
  if (oidcLoaded && err instanceof oidcLoaded.ResponseBodyError) {
    if (err.status >= 500) return unavailable(provider, `it answered ${err.status}`);
    return new ApiError('AUTH_OAUTH_CODE_INVALID', `The identity provider refused the authorization code (${err.error.slice(0, 64)})`);
  }
  const status = (err as { cause?: { status?: unknown } }).cause?.status;
  if (typeof status === 'number' && status >= 500) return unavailable(provider, `it answered ${status}`);
  return new ApiError('AUTH_OAUTH_CODE_INVALID', 'The identity provider refused the authorization code, or its answer did not validate');
}

/** http is allowed to loopback providers only (config.ts refuses it elsewhere). */
const insecureIfHttp = (oidc: typeof Oidc, url: string): Array<(config: Oidc.Configuration) => void> => (new URL(url).protocol === 'http:' ? [oidc.allowInsecureRequests] : []);

async function pkceParameters(checks: SignInChecks): Promise<Record<string, string>> {
  const oidc = await loadOidc();
  return { state: checks.state, code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier), code_challenge_method: 'S256' };
}

export class GithubClient implements IdentityProviderClient {
  readonly name = 'github' as const;
  readonly #settings: GithubProviderConfig;
  readonly #timeoutMs: number;
  #config: Oidc.Configuration | undefined;

  constructor(settings: GithubProviderConfig, timeoutMs: number) {
    this.#settings = settings;
    this.#timeoutMs = timeoutMs;
  }

  /** The library, and GitHub's configuration (OAuth2 without discovery: its metadata is the configured endpoints). */
  async #client(): Promise<{ oidc: typeof Oidc; config: Oidc.Configuration }> {
    const oidc = await loadOidc();
    if (!this.#config) {
      const { authorizeUrl, tokenUrl, clientId, clientSecret } = this.#settings;
      const config = new oidc.Configuration({ issuer: new URL(authorizeUrl).origin, authorization_endpoint: authorizeUrl, token_endpoint: tokenUrl }, clientId, clientSecret);
      config.timeout = Math.max(1, Math.ceil(this.#timeoutMs / 1000));
      for (const apply of insecureIfHttp(oidc, tokenUrl)) apply(config);
      this.#config = config;
    }
    return { oidc, config: this.#config };
  }

  async authorizationUrl(callbackUrl: string, checks: SignInChecks): Promise<URL> {
    const { oidc, config } = await this.#client();
    return oidc.buildAuthorizationUrl(config, { redirect_uri: callbackUrl, scope: 'read:user user:email read:org', allow_signup: 'false', ...(await pkceParameters(checks)) });
  }

  async complete(callback: URL, checks: SignInChecks): Promise<ProviderIdentity> {
    let accessToken: string;
    const { oidc, config } = await this.#client();
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: checks.codeVerifier, expectedState: checks.state });
      accessToken = tokens.access_token;
    } catch (err) {
      throw providerFailure(this.name, err);
    }
    const user = await this.#get<{ id: number; login: string; name?: string | null }>('/user', accessToken, true);
    const emails = await this.#get<Array<{ email: string; verified: boolean; primary: boolean }>>('/user/emails', accessToken, true);
    const orgs = (await this.#get<Array<{ login: string }>>('/user/orgs?per_page=100', accessToken, false)) ?? [];
    const teams = (await this.#get<Array<{ slug: string; organization: { login: string } }>>('/user/teams?per_page=100', accessToken, false)) ?? [];
    const verified = (emails ?? []).filter((e) => e.verified === true && typeof e.email === 'string');
    const chosen = verified.find((e) => e.primary) ?? verified[0];
    return {
      subject: String(user!.id),
      verifiedEmail: chosen?.email,
      name: user!.name || user!.login,
      groups: [...orgs.map((o) => o.login), ...teams.map((t) => `${t.organization.login}/${t.slug}`)].map((g) => g.toLowerCase()),
    };
  }

  /** One GET of GitHub's REST API; `required`: a refusal fails the sign-in, else it reads as nothing (a scope not granted). */
  async #get<T>(path: string, token: string, required: boolean): Promise<T | undefined> {
    let response: Response;
    try {
      response = await fetch(`${this.#settings.apiUrl.replace(/\/+$/, '')}${path}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'opsdeck' },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw providerFailure(this.name, err);
    }
    if (response.status >= 500) throw unavailable(this.name, `GitHub's API answered ${response.status}`);
    if (!response.ok) {
      await response.body?.cancel();
      if (!required) return undefined;
      throw new ApiError('AUTH_OAUTH_DENIED', `GitHub refused to share ${path.split('?')[0]} (${response.status})`);
    }
    try {
      return (await response.json()) as T;
    } catch (err) {
      throw isNetworkFailure(err) ? unavailable(this.name, 'it did not answer in time') : unavailable(this.name, `GitHub's API answered ${path} with something that is not JSON`);
    }
  }
}

export class OidcClient implements IdentityProviderClient {
  readonly name = 'oidc' as const;
  readonly #settings: OidcProviderConfig;
  readonly #timeoutMs: number;
  /** The discovered configuration, once discovery succeeded (a failure is tried again by the next sign-in). */
  #config: Promise<Oidc.Configuration> | undefined;

  constructor(settings: OidcProviderConfig, timeoutMs: number) {
    this.#settings = settings;
    this.#timeoutMs = timeoutMs;
  }

  #discover(): Promise<Oidc.Configuration> {
    this.#config ??= loadOidc()
      .then((oidc) =>
        oidc.discovery(
          new URL(this.#settings.issuer),
          this.#settings.clientId,
          this.#settings.clientSecret,
          this.#settings.clientSecret === undefined ? oidc.None() : undefined,
          { execute: insecureIfHttp(oidc, this.#settings.issuer), timeout: Math.max(1, Math.ceil(this.#timeoutMs / 1000)) },
        ),
      )
      .catch((err: unknown) => {
        this.#config = undefined;
        throw isNetworkFailure(err) ? unavailable(this.name, 'its discovery did not answer in time') : unavailable(this.name, 'its discovery document could not be read');
      });
    return this.#config;
  }

  async authorizationUrl(callbackUrl: string, checks: SignInChecks): Promise<URL> {
    const config = await this.#discover();
    const oidc = await loadOidc();
    return oidc.buildAuthorizationUrl(config, { redirect_uri: callbackUrl, scope: this.#settings.scopes, nonce: checks.nonce!, ...(await pkceParameters(checks)) });
  }

  async complete(callback: URL, checks: SignInChecks): Promise<ProviderIdentity> {
    const config = await this.#discover();
    const oidc = await loadOidc();
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce!,
        idTokenExpected: true,
      });
      let claims: Record<string, unknown> = { ...tokens.claims()! };
      if (claims.email === undefined && config.serverMetadata().userinfo_endpoint) {
        claims = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub as string)), ...claims };
      }
      const verified = claims.email_verified === true || claims.email_verified === 'true';
      const groups = claims[this.#settings.groupsClaim];
      return {
        subject: String(claims.sub),
        verifiedEmail: verified && typeof claims.email === 'string' ? claims.email : undefined,
        name: typeof claims.name === 'string' ? claims.name : undefined,
        groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : typeof groups === 'string' ? [groups] : [],
      };
    } catch (err) {
      throw providerFailure(this.name, err);
    }
  }
}
