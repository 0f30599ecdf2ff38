import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './types.ts';
import { withRetries, type Fetch, type RetryOptions } from './retry.ts';
import { createSession, type OpsdeckAuth, type SessionOptions } from './session.ts';
import { idempotencyKeys } from './edge.ts';

/**
 * openapi-fetch's client, typed by the contract (`GET`, `POST`, … with paths, parameters and bodies checked),
 * with `login()`, `logout()` and `session` for people who sign in.
 */
export type OpsdeckClient = Client<paths> & OpsdeckAuth;

interface CommonOptions {
  /** The server's origin, e.g. `https://opsdeck.example.com` (paths already start with `/api/v1`). */
  baseUrl: string;
  /**
   * Sent as `Authorization: Bearer …` while the session holds no token. A function is asked before every
   * call, so a token managed elsewhere can change. Not refreshed by the client.
   */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** The fetch to use; default `globalThis.fetch`. */
  fetch?: Fetch;
  /** Retries of 429, 503 and network errors for idempotent requests; `false` turns them off. */
  retries?: RetryOptions | false;
  /**
   * `true`: every create (a POST whose operation takes an `Idempotency-Key`) that does not carry a key gets a
   * fresh one (`crypto.randomUUID()`), so retries may repeat it safely: the server replays the first answer
   * (`Idempotent-Replayed: true`). The key lives only as long as the call: to retry a create yourself
   * later, send your own key. Default `false`.
   */
  idempotencyKeys?: boolean;
  /** Sent as `User-Agent`, where the runtime lets a script set it. */
  userAgent?: string;
}

export type OpsdeckClientOptions = CommonOptions &
  (
    | {
        /** Sent as `X-API-Key`, for machine clients. Such a client has no session: it never logs in or refreshes. */
        apiKey?: string | undefined;
        session?: undefined;
      }
    | {
        apiKey?: undefined;
        /** Where a person's session starts (stored tokens) and where its new tokens go (`onTokens`). */
        session?: SessionOptions | undefined;
      }
  );

export function createOpsdeckClient(options: OpsdeckClientOptions): OpsdeckClient {
  const base = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const fetch = options.retries === false ? base : withRetries(base, options.retries);
  const make = (fetch: Fetch): Client<paths> => {
    const client = createClient<paths>({
      baseUrl: options.baseUrl,
      fetch,
      headers: { 'User-Agent': options.userAgent },
      // The contract's array parameters (`fields`) are `style: form, explode: false`: `fields=id,hostname`.
      querySerializer: { array: { style: 'form', explode: false } },
    });
    client.use(requestId);
    return client;
  };
  // The token endpoints are called without the session, so that a refresh never waits on itself.
  const session = createSession(make(fetch), options.apiKey ? undefined : (options.session ?? {}));
  // The session wraps the retrying fetch: each attempt it makes (first, or after a refresh) gets retries.
  const client = make(session.wrap(fetch));
  client.use(auth(options, session.holdsTokens));
  if (options.idempotencyKeys) client.use(idempotencyKeys);
  return Object.assign(client, { login: session.login, completeLogin: session.completeLogin, logout: session.logout, session: session.session });
}

/** A fresh `X-Request-ID` per call (retries of the call keep it), unless the caller set one. */
const requestId: Middleware = {
  onRequest({ request }) {
    if (!request.headers.has('X-Request-ID')) request.headers.set('X-Request-ID', `req_${crypto.randomUUID()}`);
  },
};

/** The `token` and `apiKey` options. The session's own token is attached by its fetch wrapper. */
function auth({ token, apiKey }: OpsdeckClientOptions, sessionHoldsTokens: () => boolean): Middleware {
  return {
    async onRequest({ request }) {
      if (token !== undefined && !sessionHoldsTokens() && !request.headers.has('Authorization')) {
        const bearer = typeof token === 'function' ? await token() : token;
        if (bearer) request.headers.set('Authorization', `Bearer ${bearer}`);
      }
      if (apiKey && !request.headers.has('X-API-Key')) request.headers.set('X-API-Key', apiKey);
    },
  };
}
