import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './types.ts';
import { withRetries, type Fetch, type RetryOptions } from './retry.ts';

/** openapi-fetch's client, typed by the contract: `GET`, `POST`, … with paths, parameters and bodies checked. */
export type OpsdeckClient = Client<paths>;

export interface OpsdeckClientOptions {
  /** The server's origin, e.g. `https://opsdeck.example.com` (paths already start with `/api/v1`). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …`. A function is asked before every call, so a login flow can change the token. */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** Sent as `X-API-Key`, for machine clients. */
  apiKey?: string;
  /** The fetch to use; default `globalThis.fetch`. */
  fetch?: Fetch;
  /** Retries of 429, 503 and network errors for idempotent requests; `false` turns them off. */
  retries?: RetryOptions | false;
  /** Sent as `User-Agent`, where the runtime lets a script set it. */
  userAgent?: string;
}

export function createOpsdeckClient(options: OpsdeckClientOptions): OpsdeckClient {
  const fetch = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    fetch: options.retries === false ? fetch : withRetries(fetch, options.retries),
    headers: { 'User-Agent': options.userAgent },
    // The contract's array parameters (`fields`) are `style: form, explode: false`: `fields=id,hostname`.
    querySerializer: { array: { style: 'form', explode: false } },
  });
  client.use(requestId, auth(options));
  return client;
}

/** A fresh `X-Request-ID` per call (retries of the call keep it), unless the caller set one. */
const requestId: Middleware = {
  onRequest({ request }) {
    if (!request.headers.has('X-Request-ID')) request.headers.set('X-Request-ID', `req_${crypto.randomUUID()}`);
  },
};

function auth({ token, apiKey }: OpsdeckClientOptions): Middleware {
  return {
    async onRequest({ request }) {
      const bearer = typeof token === 'function' ? await token() : token;
      if (bearer && !request.headers.has('Authorization')) request.headers.set('Authorization', `Bearer ${bearer}`);
      if (apiKey && !request.headers.has('X-API-Key')) request.headers.set('X-API-Key', apiKey);
    },
  };
}
