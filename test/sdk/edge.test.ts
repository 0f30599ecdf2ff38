// The SDK's helpers for the contract's edge: ETags and conditional GETs, If-Match on writes,
// idempotency keys (and their retries), rate-limit headers. Against a fake server (fake-server.ts).
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  createOpsdeckClient,
  etagOf,
  getIfChanged,
  isPreconditionFailed,
  isReplayed,
  OpsdeckError,
  rateLimitOf,
  unwrap,
} from '@opsdeck/sdk';
import { agent, failure, fakeEdgeServer, fakeFetch, json, meta } from './fake-server.ts';

const baseUrl = 'https://opsdeck.test';
const agent_id = agent(1).id;
const one = { params: { path: { agent_id } } };
const newAgent = { hostname: 'web-9.prod.example.com', ip_address: '10.0.4.9', platform: 'linux' } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('the call should have failed'),
    (e: unknown) => e,
  );
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ETags and conditional GETs', () => {
  test('etagOf reads the ETag of a result, a Response or an error; undefined when absent', async () => {
    const server = fakeEdgeServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch });

    const result = await client.GET('/api/v1/agents/{agent_id}', one);

    expect(etagOf(result)).toBe('"v1"');
    expect(etagOf(result.response)).toBe('"v1"');
    expect(etagOf(new Response('{}'))).toBeUndefined();
  });

  test('getIfChanged: without an ETag a plain GET; with it If-None-Match, and a 304 is "not modified"', async () => {
    const server = fakeEdgeServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch });

    const first = await getIfChanged(client, '/api/v1/agents/{agent_id}', one, undefined);
    expect(first).toMatchObject({ notModified: false, data: agent(1), etag: '"v1"' });
    expect(server.calls[0]!.request.headers.has('If-None-Match')).toBe(false);

    const same = await getIfChanged(client, '/api/v1/agents/{agent_id}', one, first.etag);
    expect(same).toMatchObject({ notModified: true, etag: '"v1"' });
    expect(same.response.status).toBe(304);
    expect(server.calls[1]!.request.headers.get('If-None-Match')).toBe('"v1"');

    server.touch();
    const changed = await getIfChanged(client, '/api/v1/agents/{agent_id}', one, first.etag);
    expect(changed.notModified).toBe(false);
    if (changed.notModified) return;
    expect(changed.etag).toBe('"v2"');
    expect(changed.data.updated_at).not.toBe(agent(1).updated_at);
  });

  test('getIfChanged of a list gives the items as data and the whole envelope as body; headers given are kept', async () => {
    const server = fakeEdgeServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch });
    const init = { params: { query: { status: 'online' as const } }, headers: { 'X-Request-ID': 'req_mine' } };

    const page = await getIfChanged(client, '/api/v1/agents', init, undefined);
    if (page.notModified) return expect.unreachable();
    expect(page.data).toEqual([agent(1)]);
    expect(page.body.pagination).toMatchObject({ total: 1 });

    const again = await getIfChanged(client, '/api/v1/agents', init, page.etag);
    expect(again.notModified).toBe(true);
    expect(server.calls[1]!.url.search).toBe('?status=online');
    expect(server.calls[1]!.request.headers.get('X-Request-ID')).toBe('req_mine');
  });

  test('getIfChanged throws OpsdeckError for an error answer', async () => {
    const server = fakeEdgeServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch });

    const error = await rejection(
      getIfChanged(client, '/api/v1/agents/{agent_id}', { params: { path: { agent_id: agent(2).id } } }, '"v1"'),
    );

    expect(error).toBeInstanceOf(OpsdeckError);
    expect(error).toMatchObject({ code: 'RES_NOT_FOUND', status: 404 });
  });

  test('unwrap of a 304 resolves undefined rather than throwing', async () => {
    const server = fakeEdgeServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch });

    const got = await unwrap(
      client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id }, header: { 'If-None-Match': '"v1"' } } }),
    );

    expect(got).toBeUndefined();
    expect(server.calls[0]!.request.headers.get('If-None-Match')).toBe('"v1"');
  });
});

describe('If-Match on writes', () => {
  test('a write with the current ETag applies; with a stale one it throws a 412 that isPreconditionFailed names', async () => {
    const server = fakeEdgeServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch });
    const read = await client.GET('/api/v1/agents/{agent_id}', one);
    const etag = etagOf(read)!;

    const updated = await unwrap(
      client.PATCH('/api/v1/agents/{agent_id}', { params: { path: { agent_id }, header: { 'If-Match': etag } }, body: { status: 'maintenance' } }),
    );
    expect(updated.status).toBe('maintenance');
    expect(server.calls[1]!.request.headers.get('If-Match')).toBe('"v1"');

    // The write moved the agent on: the ETag read before it is stale now.
    const error = await rejection(
      unwrap(client.PATCH('/api/v1/agents/{agent_id}', { params: { path: { agent_id }, header: { 'If-Match': etag } }, body: { status: 'online' } })),
    );
    expect(isPreconditionFailed(error)).toBe(true);
    expect(OpsdeckError.is(error, 'RES_PRECONDITION_FAILED')).toBe(true);
    expect(OpsdeckError.is(error, 'RES_CONFLICT', 'RES_NOT_FOUND')).toBe(false);
    expect(error).toMatchObject({ code: 'RES_PRECONDITION_FAILED', status: 412 });
    // A 412 is final: never retried.
    expect(server.calls).toHaveLength(3);
  });

  test('a DELETE carries If-Match too; isPreconditionFailed is false for other errors', async () => {
    const server = fakeEdgeServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch });
    server.touch();

    const error = await rejection(unwrap(client.DELETE('/api/v1/agents/{agent_id}', { params: { path: { agent_id }, header: { 'If-Match': '"v1"' } } })));

    expect(isPreconditionFailed(error)).toBe(true);
    expect(isPreconditionFailed(new OpsdeckError({ code: 'RES_CONFLICT', message: 'x', status: 409 }))).toBe(false);
    expect(isPreconditionFailed(new Error('RES_PRECONDITION_FAILED'))).toBe(false);
  });
});

describe('idempotency keys', () => {
  test('idempotencyKeys: true gives each create a fresh key; a key of the caller is kept; other POSTs get none', async () => {
    const { fetch, calls } = fakeFetch((call) =>
      call.url.pathname === '/api/v1/auth/login'
        ? json(200, { success: true, data: { access_token: 'at', refresh_token: 'rt', token_type: 'Bearer', expires_in: 900 }, meta: meta() })
        : json(201, { success: true, data: agent(9), meta: meta() }),
    );
    const client = createOpsdeckClient({ baseUrl, fetch, idempotencyKeys: true });

    await client.POST('/api/v1/agents', { body: newAgent });
    await client.POST('/api/v1/agents', { body: newAgent });
    await client.POST('/api/v1/agents', { body: newAgent, params: { header: { 'Idempotency-Key': 'mine-1' } } });
    await client.POST('/api/v1/teams/{team_id}/members', {
      params: { path: { team_id: agent(1).team_id } },
      body: { user_id: agent(2).id },
    });
    await client.login('ada@example.com', 'secret');
    await client.POST('/api/v1/auth/password', { body: { current_password: 'secret', new_password: 'correct-horse-battery' } });

    const keys = calls.map((c) => c.request.headers.get('Idempotency-Key'));
    expect(keys[0]).toMatch(UUID);
    expect(keys[1]).toMatch(UUID);
    expect(keys[1]).not.toBe(keys[0]);
    expect(keys[2]).toBe('mine-1');
    expect(keys[3]).toMatch(UUID);
    expect(keys.slice(4)).toEqual([null, null]);
  });

  test('without the option no key is added', async () => {
    const { fetch, calls } = fakeFetch(() => json(201, { success: true, data: agent(9), meta: meta() }));
    const client = createOpsdeckClient({ baseUrl, fetch });

    await client.POST('/api/v1/agents', { body: newAgent });

    expect(calls[0]!.request.headers.has('Idempotency-Key')).toBe(false);
  });

  test('so a create is retried after a 503, with the same key and body', async () => {
    vi.useFakeTimers();
    const { fetch, calls } = fakeFetch((_, i) =>
      i === 0 ? failure(503, 'EXT_SERVICE_UNAVAILABLE', { 'Retry-After': '1' }) : json(201, { success: true, data: agent(9), meta: meta() }),
    );
    const client = createOpsdeckClient({ baseUrl, fetch, idempotencyKeys: true });

    const result = unwrap(client.POST('/api/v1/agents', { body: newAgent }));
    await vi.runAllTimersAsync();

    await expect(result).resolves.toEqual(agent(9));
    expect(calls).toHaveLength(2);
    expect(calls[1]!.request.headers.get('Idempotency-Key')).toBe(calls[0]!.request.headers.get('Idempotency-Key'));
    expect(calls[1]!.body).toBe(calls[0]!.body);
  });

  test('409 RES_IDEMPOTENCY_IN_FLIGHT is waited out (Retry-After) and the retry gets the answer', async () => {
    vi.useFakeTimers();
    const server = fakeEdgeServer({ holdInFlight: 1 });
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch, idempotencyKeys: true });

    const result = client.POST('/api/v1/agents', { body: newAgent });
    await vi.advanceTimersByTimeAsync(999);
    expect(server.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);

    const { response } = await result;
    expect(response.status).toBe(201);
    expect(server.calls).toHaveLength(2);
    expect(server.created()).toBe(1);
  });

  test('a replay is told by isReplayed; the same key with another body is 422; other 409s are not retried', async () => {
    const server = fakeEdgeServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch });
    const header = { 'Idempotency-Key': 'key-1' };

    const first = await client.POST('/api/v1/agents', { params: { header }, body: newAgent });
    const second = await client.POST('/api/v1/agents', { params: { header }, body: newAgent });
    expect([isReplayed(first), isReplayed(second)]).toEqual([false, true]);
    expect(second.data?.data).toEqual(first.data?.data);
    expect(server.created()).toBe(1);

    const reused = await rejection(unwrap(client.POST('/api/v1/agents', { params: { header }, body: { ...newAgent, hostname: 'other' } })));
    expect(reused).toMatchObject({ code: 'VAL_IDEMPOTENCY_KEY_REUSED', status: 422 });

    const exists = await rejection(
      unwrap(client.POST('/api/v1/teams', { params: { header: { 'Idempotency-Key': 'key-2' } }, body: { name: 'Platform' } })),
    );
    expect(exists).toMatchObject({ code: 'RES_ALREADY_EXISTS', status: 409 });
    expect(server.calls).toHaveLength(4);
  });
});

describe('rate limits', () => {
  test('rateLimitOf reads the X-RateLimit-* headers of a result', async () => {
    const server = fakeEdgeServer({ limit: 10 });
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch });

    const result = await client.GET('/api/v1/agents/{agent_id}', one);

    expect(rateLimitOf(result)).toEqual({ limit: 10, remaining: 9, reset: 1_795_257_060, bucket: 'user:u1/authenticated' });
    expect(rateLimitOf(result.response)).toEqual(rateLimitOf(result));
  });

  test('and of a 429 through its OpsdeckError; undefined when an answer carries none', async () => {
    const server = fakeEdgeServer({ limit: 1 });
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch, retries: false });
    await client.GET('/api/v1/agents/{agent_id}', one);

    const error = await rejection(unwrap(client.GET('/api/v1/agents/{agent_id}', one)));

    expect(error).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', status: 429 });
    expect(rateLimitOf(error as OpsdeckError)).toMatchObject({ limit: 1, remaining: 0 });
    expect((error as OpsdeckError).headers.get('Retry-After')).toBe('7');
    expect(rateLimitOf(new Response('{}'))).toBeUndefined();
    expect(rateLimitOf(new Response('{}', { headers: { 'X-RateLimit-Limit': 'lots' } }))).toBeUndefined();
  });
});
