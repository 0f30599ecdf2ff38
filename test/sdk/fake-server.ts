// A `fetch` for the SDK's tests: it records each request (with its body read) and answers from `handler`.
import type { Agent, Meta, TokenPair } from '@opsdeck/sdk';

export interface Recorded {
  request: Request;
  url: URL;
  body: string;
}

export function fakeFetch(handler: (call: Recorded, index: number) => Response | Promise<Response>) {
  const calls: Recorded[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const call = { request, url: new URL(request.url), body: await request.text() };
    calls.push(call);
    return handler(call, calls.length - 1);
  };
  return { fetch, calls };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

export const meta = (requestId = 'req_test'): Meta => ({
  request_id: requestId,
  timestamp: '2026-11-21T10:30:00.000Z',
  api_version: '1.0',
});

export function agent(n: number): Agent {
  return {
    id: `0192f0c1-7c1e-7d3a-9b7e-${String(n).padStart(12, '0')}`,
    team_id: '0192f0a0-0000-7000-8000-00000000000a',
    hostname: `web-${n}.prod.example.com`,
    ip_address: `10.0.4.${n}`,
    platform: 'linux',
    os_version: 'Ubuntu 24.04.1 LTS',
    agent_version: '2.4.1',
    status: 'online',
    tags: ['web'],
    last_seen: '2026-11-21T10:29:41.000Z',
    created_at: '2026-11-02T08:15:00.000Z',
    updated_at: '2026-11-20T17:02:12.000Z',
  };
}

export const ok = (data: unknown): Response => json(200, { success: true, data, meta: meta() });

export const failure = (status: number, code: string, headers: Record<string, string> = {}): Response =>
  json(status, { success: false, error: { code, message: `${code} happened` }, meta: meta() }, headers);

export const tokenPair = (n: number): TokenPair => ({
  access_token: `at_${n}`,
  refresh_token: `rt_${n}`,
  token_type: 'Bearer',
  expires_in: 900,
});

const noContent = (): Response => new Response(null, { status: 204 });

/**
 * A fake Opsdeck that signs people in: `ada@example.com` / `secret` logs in, refresh tokens rotate (a spent one
 * is refused), `expire(token)` makes an access token answer 401 AUTH_EXPIRED_TOKEN, and `X-API-Key: opk_good`
 * is accepted. Protected calls answer `route(call)` (default: agent 1, or 201 with agent 9 for a POST).
 */
export function fakeAuthServer(options: { refreshDelayMs?: number; route?: (call: Recorded) => Response } = {}) {
  let issued = 0;
  const live = new Set<string>();
  const expired = new Set<string>();
  const refreshable = new Set<string>();
  const issue = (): TokenPair => {
    const pair = tokenPair((issued += 1));
    live.add(pair.access_token);
    refreshable.add(pair.refresh_token);
    return pair;
  };
  const created = (): Response => json(201, { success: true, data: agent(9), meta: meta() });
  const route = options.route ?? ((call: Recorded) => (call.request.method === 'POST' ? created() : ok(agent(1))));
  const server = fakeFetch(async (call) => {
    const path = call.url.pathname;
    if (path === '/api/v1/auth/login') {
      const { email, password } = JSON.parse(call.body) as { email: string; password: string };
      return email === 'ada@example.com' && password === 'secret' ? ok(issue()) : failure(401, 'AUTH_INVALID_CREDENTIALS');
    }
    if (path === '/api/v1/auth/refresh') {
      if (options.refreshDelayMs) await new Promise((resolve) => setTimeout(resolve, options.refreshDelayMs));
      const { refresh_token } = JSON.parse(call.body) as { refresh_token: string };
      return refreshable.delete(refresh_token) ? ok(issue()) : failure(401, 'AUTH_INVALID_TOKEN');
    }
    if (path === '/api/v1/auth/logout') {
      const { refresh_token } = JSON.parse(call.body) as { refresh_token: string };
      return refreshable.delete(refresh_token) ? noContent() : failure(401, 'AUTH_INVALID_TOKEN');
    }
    const key = call.request.headers.get('X-API-Key');
    if (key !== null) return key === 'opk_good' ? route(call) : failure(401, 'AUTH_INVALID_TOKEN');
    const bearer = call.request.headers.get('Authorization')?.replace(/^Bearer /, '');
    if (bearer === undefined) return failure(401, 'AUTH_REQUIRED');
    if (expired.has(bearer)) return failure(401, 'AUTH_EXPIRED_TOKEN');
    return live.has(bearer) ? route(call) : failure(401, 'AUTH_INVALID_TOKEN');
  });
  const to = (path: string) => server.calls.filter((c) => c.url.pathname === path);
  return {
    ...server,
    /** Makes an access token expire (every one, when none is named). */
    expire(token?: string): void {
      for (const t of token === undefined ? live : [token]) expired.add(t);
    },
    /** A refresh token as an app would have stored it from an earlier run. */
    storedRefreshToken(): string {
      return issue().refresh_token;
    },
    /** Refuses every refresh token issued so far (as after a replay revoked the family). */
    revokeRefreshTokens(): void {
      refreshable.clear();
    },
    refreshes: () => to('/api/v1/auth/refresh'),
    logins: () => to('/api/v1/auth/login'),
    logouts: () => to('/api/v1/auth/logout'),
    /** The calls other than to the token endpoints. */
    protectedCalls: () => server.calls.filter((c) => !c.url.pathname.startsWith('/api/v1/auth/')),
  };
}

/**
 * A fake Opsdeck with the contract's edge, for agents: GETs answer a strong `ETag` (the agent's version) and
 * `304` to a matching `If-None-Match`; PATCH and DELETE check `If-Match` (`412 RES_PRECONDITION_FAILED`
 * when stale); POST /agents keeps the first answer per `Idempotency-Key` and replays it (`Idempotent-Replayed:
 * true`), refuses the key with another body (`422 VAL_IDEMPOTENCY_KEY_REUSED`) and, while `holdInFlight`
 * attempts remain, answers `409 RES_IDEMPOTENCY_IN_FLIGHT` with `Retry-After: 1`. Every answer carries the
 * `X-RateLimit-*` headers of a bucket of `limit` tokens; an empty bucket answers `429` with `Retry-After`.
 */
export function fakeEdgeServer(options: { limit?: number; holdInFlight?: number } = {}) {
  const limit = options.limit ?? 100;
  let remaining = limit;
  let holdInFlight = options.holdInFlight ?? 0;
  const reset = 1_795_257_060;
  let current: Agent = agent(1);
  let version = 1;
  let created = 0;
  const etag = () => `"v${version}"`;
  const answers = new Map<string, { body: string; status: number; data: Agent }>();

  const server = fakeFetch((call) => {
    const { request, url } = call;
    const limits = { 'X-RateLimit-Limit': String(limit), 'X-RateLimit-Reset': String(reset), 'X-RateLimit-Bucket': 'user:u1/authenticated' };
    if (remaining === 0) return failure(429, 'RATE_LIMIT_EXCEEDED', { ...limits, 'X-RateLimit-Remaining': '0', 'Retry-After': '7' });
    remaining -= 1;
    const headers = { ...limits, 'X-RateLimit-Remaining': String(remaining) };
    const one = url.pathname === `/api/v1/agents/${current.id}`;

    if (request.method === 'GET' && (one || url.pathname === '/api/v1/agents')) {
      const tag = one ? etag() : `"list-v${version}"`;
      const cache = { ...headers, ETag: tag, 'Cache-Control': 'private, no-cache' };
      if (request.headers.get('If-None-Match') === tag) return new Response(null, { status: 304, headers: cache });
      const body = one
        ? { success: true, data: current, meta: meta() }
        : { success: true, data: [current], pagination: { mode: 'offset', page: 1, per_page: 50, total: 1 }, meta: meta() };
      return json(200, body, { ...cache, ...(one ? { 'Last-Modified': new Date(current.updated_at).toUTCString() } : {}) });
    }
    if ((request.method === 'PATCH' || request.method === 'DELETE') && one) {
      const ifMatch = request.headers.get('If-Match');
      if (ifMatch !== null && ifMatch !== etag()) return failure(412, 'RES_PRECONDITION_FAILED', headers);
      version += 1;
      if (request.method === 'DELETE') return new Response(null, { status: 204, headers });
      current = { ...current, ...(JSON.parse(call.body) as Partial<Agent>), updated_at: `2026-11-21T10:3${version}:00.000Z` };
      return json(200, { success: true, data: current, meta: meta() }, headers);
    }
    if (request.method === 'POST' && url.pathname === '/api/v1/agents') {
      const key = request.headers.get('Idempotency-Key');
      const stored = key === null ? undefined : answers.get(key);
      if (stored && stored.body !== call.body) return failure(422, 'VAL_IDEMPOTENCY_KEY_REUSED', headers);
      if (key !== null && holdInFlight > 0) {
        holdInFlight -= 1;
        return failure(409, 'RES_IDEMPOTENCY_IN_FLIGHT', { ...headers, 'Retry-After': '1' });
      }
      if (stored) return json(stored.status, { success: true, data: stored.data, meta: meta() }, { ...headers, 'Idempotent-Replayed': 'true' });
      const made = agent(100 + (created += 1));
      if (key !== null) answers.set(key, { body: call.body, status: 201, data: made });
      return json(201, { success: true, data: made, meta: meta() }, { ...headers, Location: `/api/v1/agents/${made.id}` });
    }
    if (request.method === 'POST' && url.pathname === '/api/v1/teams') return failure(409, 'RES_ALREADY_EXISTS', headers);
    return failure(404, 'RES_NOT_FOUND', headers);
  });
  return {
    ...server,
    /** Another editor changes the agent: its ETag moves on. */
    touch(): void {
      version += 1;
      current = { ...current, updated_at: `2026-11-21T11:0${version}:00.000Z` };
    },
    /** How many agents were really created (replays not counted). */
    created: () => created,
    etag,
  };
}
