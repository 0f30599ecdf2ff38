import { describe, expect, test } from 'vitest';
import { createOpsdeckClient, unwrap } from '@opsdeck/sdk';
import { agent, fakeFetch, ok } from './fake-server.ts';

const baseUrl = 'https://opsdeck.test';
const agent_id = agent(1).id;

describe('request headers', () => {
  test('a token is sent as a bearer token, an API key as X-API-Key', async () => {
    const { fetch, calls } = fakeFetch(() => ok(agent(1)));
    const client = createOpsdeckClient({ baseUrl, fetch, token: 'tok_1', apiKey: 'key_1', userAgent: 'ops-cli/1.0' });

    await client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } });

    const headers = calls[0]!.request.headers;
    expect(headers.get('Authorization')).toBe('Bearer tok_1');
    expect(headers.get('X-API-Key')).toBe('key_1');
    expect(headers.get('User-Agent')).toBe('ops-cli/1.0');
    expect(calls[0]!.url.pathname).toBe(`/api/v1/agents/${agent_id}`);
  });

  test('a token function is asked on every call, and no credentials means no auth headers', async () => {
    const { fetch, calls } = fakeFetch(() => ok(agent(1)));
    let token: string | undefined;
    const client = createOpsdeckClient({ baseUrl, fetch, token: () => token });

    await client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } });
    token = 'tok_after_login';
    await client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } });

    expect(calls[0]!.request.headers.has('Authorization')).toBe(false);
    expect(calls[0]!.request.headers.has('X-API-Key')).toBe(false);
    expect(calls[1]!.request.headers.get('Authorization')).toBe('Bearer tok_after_login');
  });

  test('each call gets a fresh req_ request id unless the caller sets one', async () => {
    const { fetch, calls } = fakeFetch(() => ok(agent(1)));
    const client = createOpsdeckClient({ baseUrl, fetch });
    const get = (headers?: Record<string, string>) =>
      client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } }, headers });

    await get();
    await get();
    await get({ 'X-Request-ID': 'req_mine' });

    const [first, second, third] = calls.map((c) => c.request.headers.get('X-Request-ID'));
    expect(first).toMatch(/^req_[0-9a-f-]{36}$/);
    expect(second).toMatch(/^req_[0-9a-f-]{36}$/);
    expect(second).not.toBe(first);
    expect(third).toBe('req_mine');
  });

  test('array query parameters are sent comma-separated, as the contract declares', async () => {
    const { fetch, calls } = fakeFetch(() => ok([]));
    const client = createOpsdeckClient({ baseUrl, fetch });

    await client.GET('/api/v1/agents', { params: { query: { fields: ['id', 'hostname'], status: 'online' } } });

    expect(calls[0]!.url.search).toBe('?fields=id,hostname&status=online');
  });
});

test('unwrap returns the envelope data', async () => {
  const { fetch } = fakeFetch(() => ok(agent(1)));
  const client = createOpsdeckClient({ baseUrl, fetch });

  const got = await unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }));

  expect(got).toEqual(agent(1));
});

test('unwrap of a 204 answer gives undefined', async () => {
  const { fetch, calls } = fakeFetch(() => new Response(null, { status: 204 }));
  const client = createOpsdeckClient({ baseUrl, fetch });

  await expect(unwrap(client.DELETE('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }))).resolves.toBeUndefined();
  expect(calls[0]!.request.method).toBe('DELETE');
});
