import type { Client } from 'openapi-fetch';
import { OpsdeckError } from './errors.ts';
import type { Fetch } from './retry.ts';
import type { MfaChallenge, paths, TokenPair } from './types.ts';

/** The second factor that completes a login: a current TOTP code, or one recovery code. */
export type SecondFactor = { code: string } | { recovery_code: string };

export interface LoginOptions {
  /**
   * Asked for a TOTP code (or a recovery code) when the account has a second factor and the server answers
   * `401 AUTH_MFA_REQUIRED`; the login then completes at `loginMfa`. Without it, such a login throws
   * `MfaRequiredError`, whose `challenge` can be completed later with `completeLogin()`.
   */
  secondFactor?: (challenge: MfaChallenge) => SecondFactor | Promise<SecondFactor>;
}

/** A right password for an account with a second factor: complete with `completeLogin(error.challenge.mfa_token, …)`. */
export class MfaRequiredError extends OpsdeckError {
  readonly challenge: MfaChallenge;

  constructor(base: OpsdeckError, challenge: MfaChallenge) {
    super({ code: base.code, message: base.message, status: base.status, requestId: base.requestId, details: base.details, helpUrl: base.helpUrl, headers: base.headers });
    this.challenge = challenge;
  }
}

export interface SessionOptions {
  /** An access token kept from an earlier run; used until the server answers that it expired. */
  accessToken?: string;
  /**
   * A refresh token kept from an earlier run, to resume without logging in: when no access token is held,
   * the first call exchanges it for a new pair.
   */
  refreshToken?: string;
  /**
   * Told every new pair (after `login()` and after each refresh) and `undefined` when the session ends
   * (`logout()`, `session.clear()`, a refused refresh). Persist the pair here: each refresh spends the
   * previous refresh token. It is awaited before the call goes on; what it throws, the call throws.
   */
  onTokens?: (tokens: TokenPair | undefined) => void | Promise<void>;
}

/** The tokens a client holds for a signed-in person (`client.session`). */
export interface OpsdeckSession {
  /** The access token sent as `Authorization: Bearer …`, if any. */
  readonly accessToken: string | undefined;
  /** The refresh token, if any: exchanged for a new pair when the access token expires. */
  readonly refreshToken: string | undefined;
  /**
   * Exchanges the refresh token for a new pair now; calls in flight share the one request (also with the
   * refresh the client makes by itself). Throws `OpsdeckError` when refused; a 401 also ends the session.
   */
  refresh(): Promise<TokenPair>;
  /** Forgets the tokens here, without telling the server (`logout()` revokes them). */
  clear(): Promise<void>;
}

/** What `createOpsdeckClient` adds to openapi-fetch's client for people who sign in. */
export interface OpsdeckAuth {
  /**
   * Exchanges an email and password for a token pair, which the client keeps and sends from then on.
   * Throws `OpsdeckError` (`AUTH_INVALID_CREDENTIALS`, `RATE_LIMIT_EXCEEDED`, …). Not for API-key clients.
   */
  login(email: string, password: string, options?: LoginOptions): Promise<TokenPair>;
  /**
   * The second step of a login for an account with a second factor (`loginMfa`): the challenge's token with a TOTP
   * code or a recovery code. The pair is kept like `login()`'s. Throws `OpsdeckError` (`AUTH_MFA_INVALID_CODE`,
   * `AUTH_INVALID_TOKEN` for an expired or spent challenge, `RATE_LIMIT_EXCEEDED`).
   */
  completeLogin(mfaToken: string, factor: SecondFactor): Promise<TokenPair>;
  /** Revokes the refresh token (and its family) at the server and clears the session, even when that fails. */
  logout(): Promise<void>;
  readonly session: OpsdeckSession;
}

/** The session of one client: its tokens, log-in and log-out, and the fetch wrapper that uses them. */
export interface SessionManager extends OpsdeckAuth {
  /** True while the session holds a token; the client's `token` option then stays unused. */
  holdsTokens(): boolean;
  /** Wraps the client's fetch: attaches the access token, and after an expired-token 401 refreshes once and retries once. */
  wrap(fetch: Fetch): Fetch;
}

// These authenticate by their body; a bearer token means nothing to them.
const TOKEN_ENDPOINT = /\/api\/v1\/auth\/(?:login|login\/mfa|refresh|logout)$/;

/**
 * `tokens` is a client without the session (no bearer, no refresh on 401) for the token endpoints.
 * `options` undefined turns the session off: API-key clients never log in or refresh.
 */
export function createSession(tokens: Client<paths>, options: SessionOptions | undefined): SessionManager {
  const enabled = options !== undefined;
  let accessToken = options?.accessToken;
  let refreshToken = options?.refreshToken;
  // Changes whenever the tokens do, so that a refresh answered after a log-in or log-out is not applied.
  let generation = 0;
  let inflight: Promise<TokenPair> | undefined;

  async function begin(pair: TokenPair): Promise<void> {
    generation += 1;
    accessToken = pair.access_token;
    refreshToken = pair.refresh_token;
    await options?.onTokens?.(pair);
  }

  async function end(): Promise<void> {
    generation += 1;
    const held = accessToken !== undefined || refreshToken !== undefined;
    accessToken = undefined;
    refreshToken = undefined;
    if (held) await options?.onTokens?.(undefined);
  }

  async function exchange(): Promise<TokenPair> {
    const refresh_token = refreshToken;
    if (refresh_token === undefined) throw new Error('Opsdeck session: no refresh token; log in first');
    const started = generation;
    const { data, error, response } = await tokens.POST('/api/v1/auth/refresh', { body: { refresh_token } });
    const current = started === generation;
    if (!data) {
      const refused = OpsdeckError.fromResponse(response, error);
      if (current && response.status === 401) await end();
      throw refused;
    }
    if (current) await begin(data.data);
    return data.data;
  }

  /** Single flight: while a refresh is on its way, every caller gets that one. */
  function refresh(): Promise<TokenPair> {
    inflight ??= exchange().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  /** The token to retry with after `failed` expired, or undefined when there is none to be had. */
  async function renew(failed: string): Promise<string | undefined> {
    // Another call refreshed since this one was sent: its new token is the answer.
    if (accessToken !== undefined && accessToken !== failed) return accessToken;
    if (refreshToken === undefined) return undefined;
    try {
      return (await refresh()).access_token;
    } catch (error) {
      if (error instanceof OpsdeckError) return undefined;
      throw error;
    }
  }

  async function login(email: string, password: string, loginOptions: LoginOptions = {}): Promise<TokenPair> {
    if (!enabled) throw new Error('Opsdeck client: this client authenticates with an API key; it does not log in');
    const { data, error, response } = await tokens.POST('/api/v1/auth/login', { body: { email, password } });
    if (!data) {
      const refused = OpsdeckError.fromResponse(response, error);
      const challenge = refused.code === 'AUTH_MFA_REQUIRED' ? (error as { mfa?: MfaChallenge } | undefined)?.mfa : undefined;
      if (!challenge) throw refused;
      if (!loginOptions.secondFactor) throw new MfaRequiredError(refused, challenge);
      return completeLogin(challenge.mfa_token, await loginOptions.secondFactor(challenge));
    }
    await begin(data.data);
    return data.data;
  }

  async function completeLogin(mfaToken: string, factor: SecondFactor): Promise<TokenPair> {
    if (!enabled) throw new Error('Opsdeck client: this client authenticates with an API key; it does not log in');
    const { data, error, response } = await tokens.POST('/api/v1/auth/login/mfa', { body: { mfa_token: mfaToken, ...factor } });
    if (!data) throw OpsdeckError.fromResponse(response, error);
    await begin(data.data);
    return data.data;
  }

  async function logout(): Promise<void> {
    // A refresh on its way spends the current refresh token: revoke the one it brings instead.
    await inflight?.catch(() => undefined);
    const refresh_token = refreshToken;
    try {
      if (refresh_token === undefined) return;
      const { error, response } = await tokens.POST('/api/v1/auth/logout', { body: { refresh_token } });
      // 401: the token was already spent or revoked, which is what logging out wants.
      if (!response.ok && response.status !== 401) throw OpsdeckError.fromResponse(response, error);
    } finally {
      await end();
    }
  }

  async function expired(response: Response): Promise<boolean> {
    if (response.status !== 401) return false;
    try {
      const body: unknown = await response.clone().json();
      const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
      return code === 'AUTH_EXPIRED_TOKEN';
    } catch {
      return false;
    }
  }

  function wrap(fetch: Fetch): Fetch {
    if (!enabled) return fetch;
    return async (request) => {
      // A call that brings its own Authorization (or the `token` option's) is left as it is.
      if (request.headers.has('Authorization') || TOKEN_ENDPOINT.test(new URL(request.url).pathname)) {
        return fetch(request);
      }
      if (accessToken === undefined && refreshToken !== undefined) {
        // Resuming from a stored refresh token. Refused, the call goes out without a token and gets its 401.
        await refresh().catch((error: unknown) => {
          if (!(error instanceof OpsdeckError)) throw error;
        });
      }
      const sent = accessToken;
      if (sent === undefined) return fetch(request);
      // Sending consumes the body; this untouched copy lets the retry send it again.
      const pristine = refreshToken === undefined ? undefined : request.clone();
      request.headers.set('Authorization', `Bearer ${sent}`);
      const response = await fetch(request);
      if (!pristine || !(await expired(response))) return response;
      const fresh = await renew(sent);
      // No new token: the original 401 is the answer. Either way there is at most one retry.
      if (fresh === undefined) return response;
      await response.body?.cancel();
      pristine.headers.set('Authorization', `Bearer ${fresh}`);
      return fetch(pristine);
    };
  }

  const session: OpsdeckSession = {
    get accessToken() {
      return accessToken;
    },
    get refreshToken() {
      return refreshToken;
    },
    refresh,
    clear: end,
  };

  return {
    login,
    completeLogin,
    logout,
    session,
    holdsTokens: () => accessToken !== undefined || refreshToken !== undefined,
    wrap,
  };
}
