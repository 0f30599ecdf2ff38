import { describe, expect, test } from 'vitest';
import { createOpsdeckClient, OpsdeckError, unwrap, type TokenPair } from '@opsdeck/sdk';
import { agent, failure, fakeAuthServer, tokenPair } from './fake-server.ts';

const baseUrl = 'https://opsdeck.test';
const agent_id = agent(1).id;
const newAgent = { hostname: 'web-9.prod.example.com', ip_address: '10.0.4.9', platform: 'linux' } as const;

/** A client on a fake server, with every `onTokens` call recorded. */
function setup(options: Parameters<typeof fakeAuthServer>[0] = {}, refreshToken?: string) {
  const server = fakeAuthServer(options);
  const told: Array<TokenPair | undefined> = [];
  const client = createOpsdeckClient({
    baseUrl,
    fetch: server.fetch,
    session: { refreshToken, onTokens: (pair) => void told.push(pair) },
  });
  const getAgent = () => client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } });
  return { server, client, told, getAgent };
}

const bearer = (call: { request: Request } | undefined) => call?.request.headers.get('Authorization');

describe('login', () => {
  test('stores the pair, tells onTokens, and later calls carry the access token', async () => {
    const { server, client, told, getAgent } = setup();

    const pair = await client.login('ada@example.com', 'secret');

    expect(pair).toEqual(tokenPair(1));
    expect(client.session.accessToken).toBe('at_1');
    expect(client.session.refreshToken).toBe('rt_1');
    expect(told).toEqual([tokenPair(1)]);
    expect(JSON.parse(server.logins()[0]!.body)).toEqual({ email: 'ada@example.com', password: 'secret' });
    expect(bearer(server.logins()[0])).toBeNull();

    await expect(unwrap(getAgent())).resolves.toEqual(agent(1));
    expect(bearer(server.protectedCalls()[0])).toBe('Bearer at_1');
  });

  test('wrong credentials throw AUTH_INVALID_CREDENTIALS and leave no session', async () => {
    const { client, told } = setup();

    const error = await client.login('ada@example.com', 'wrong').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpsdeckError);
    expect(error).toMatchObject({ code: 'AUTH_INVALID_CREDENTIALS', status: 401 });
    expect(client.session.accessToken).toBeUndefined();
    expect(told).toEqual([]);
  });

  test('the session token wins over the token option; a call that sets Authorization keeps it', async () => {
    const server = fakeAuthServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch, token: 'at_static' });
    await client.login('ada@example.com', 'secret');

    await client.GET('/api/v1/system/version');
    await client.GET('/api/v1/system/version', { headers: { Authorization: 'Bearer at_mine' } });

    expect(server.protectedCalls().map(bearer)).toEqual(['Bearer at_1', 'Bearer at_mine']);
  });
});

describe('an expired access token', () => {
  test('is refreshed once and the call retried once, with its body', async () => {
    const { server, client, told } = setup();
    await client.login('ada@example.com', 'secret');
    server.expire('at_1');

    const created = await unwrap(client.POST('/api/v1/agents', { body: newAgent }));

    expect(created).toEqual(agent(9));
    expect(server.refreshes().map((c) => JSON.parse(c.body) as unknown)).toEqual([{ refresh_token: 'rt_1' }]);
    const posts = server.protectedCalls();
    expect(posts.map(bearer)).toEqual(['Bearer at_1', 'Bearer at_2']);
    expect(posts.map((c) => JSON.parse(c.body) as unknown)).toEqual([newAgent, newAgent]);
    expect(posts[1]!.request.headers.get('X-Request-ID')).toBe(posts[0]!.request.headers.get('X-Request-ID'));
    expect(client.session.refreshToken).toBe('rt_2');
    expect(told).toEqual([tokenPair(1), tokenPair(2)]);
  });

  test('seen by concurrent calls is refreshed by one shared request', async () => {
    const { server, client, getAgent } = setup({ refreshDelayMs: 20 });
    await client.login('ada@example.com', 'secret');
    server.expire('at_1');

    const results = await Promise.all([unwrap(getAgent()), unwrap(getAgent()), unwrap(client.GET('/api/v1/system/version'))]);

    expect(results[0]).toEqual(agent(1));
    expect(server.refreshes()).toHaveLength(1);
    const sent = server.protectedCalls().map(bearer);
    expect(sent.filter((b) => b === 'Bearer at_1')).toHaveLength(3);
    expect(sent.filter((b) => b === 'Bearer at_2')).toHaveLength(3);
  });

  test('a call answered after another one refreshed retries with the new token, without refreshing again', async () => {
    const server = fakeAuthServer();
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Answers to /system/version wait for `release()`.
    const fetch = async (request: Request): Promise<Response> => {
      const response = await server.fetch(request);
      if (new URL(request.url).pathname === '/api/v1/system/version') await held;
      return response;
    };
    const client = createOpsdeckClient({ baseUrl, fetch, session: {} });
    await client.login('ada@example.com', 'secret');
    server.expire('at_1');

    const late = client.GET('/api/v1/system/version'); // sent with at_1, answered later
    await unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } })); // refreshes: at_2
    release();

    expect((await late).response.status).toBe(200);
    expect(server.refreshes()).toHaveLength(1);
    const versions = server.protectedCalls().filter((c) => c.url.pathname === '/api/v1/system/version');
    expect(versions.map(bearer)).toEqual(['Bearer at_1', 'Bearer at_2']);
  });

  test('when the refresh is refused, the original 401 surfaces, the session ends, and nothing loops', async () => {
    const { server, client, told, getAgent } = setup();
    await client.login('ada@example.com', 'secret');
    server.expire('at_1');
    server.revokeRefreshTokens();

    const error = await unwrap(getAgent()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OpsdeckError);
    expect(error).toMatchObject({ code: 'AUTH_EXPIRED_TOKEN', status: 401 });
    expect(server.refreshes()).toHaveLength(1);
    expect(server.protectedCalls()).toHaveLength(1);
    expect(client.session.accessToken).toBeUndefined();
    expect(client.session.refreshToken).toBeUndefined();
    expect(told).toEqual([tokenPair(1), undefined]);

    // Signed out: the next call goes without a token and does not try to refresh.
    await expect(unwrap(getAgent())).rejects.toMatchObject({ code: 'AUTH_REQUIRED' });
    expect(bearer(server.protectedCalls()[1])).toBeNull();
    expect(server.refreshes()).toHaveLength(1);
  });

  test('a retry that is again refused is the answer: one refresh, one retry', async () => {
    const { server, client, getAgent } = setup({ route: () => failure(401, 'AUTH_EXPIRED_TOKEN') });
    await client.login('ada@example.com', 'secret');

    await expect(unwrap(getAgent())).rejects.toMatchObject({ code: 'AUTH_EXPIRED_TOKEN' });

    expect(server.refreshes()).toHaveLength(1);
    expect(server.protectedCalls().map(bearer)).toEqual(['Bearer at_1', 'Bearer at_2']);
  });

  test('other 401s are not refreshed', async () => {
    const { server, client, getAgent } = setup({ route: () => failure(401, 'AUTH_INVALID_TOKEN') });
    await client.login('ada@example.com', 'secret');

    await expect(unwrap(getAgent())).rejects.toMatchObject({ code: 'AUTH_INVALID_TOKEN' });

    expect(server.refreshes()).toHaveLength(0);
    expect(server.protectedCalls()).toHaveLength(1);
  });

  test('a token the caller set is not refreshed', async () => {
    const { server, client } = setup();
    await client.login('ada@example.com', 'secret');
    server.expire('at_1');

    const { response } = await client.GET('/api/v1/system/version', { headers: { Authorization: 'Bearer at_1' } });

    expect(response.status).toBe(401);
    expect(server.refreshes()).toHaveLength(0);
  });
});

describe('a stored refresh token', () => {
  test('resumes the session: the first call refreshes, then carries the new access token', async () => {
    const server = fakeAuthServer();
    const stored = server.storedRefreshToken(); // rt_1
    const told: Array<TokenPair | undefined> = [];
    const client = createOpsdeckClient({
      baseUrl,
      fetch: server.fetch,
      session: { refreshToken: stored, onTokens: (pair) => void told.push(pair) },
    });

    const [a, b] = await Promise.all([
      unwrap(client.GET('/api/v1/system/version')),
      unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } })),
    ]);

    expect([a, b]).toEqual([agent(1), agent(1)]);
    expect(server.refreshes().map((c) => JSON.parse(c.body) as unknown)).toEqual([{ refresh_token: 'rt_1' }]);
    expect(server.protectedCalls().map(bearer)).toEqual(['Bearer at_2', 'Bearer at_2']);
    expect(told).toEqual([tokenPair(2)]);
  });

  test('refused, the call goes out without a token and the session ends', async () => {
    const { server, client, told } = setup({}, 'rt_unknown');

    await expect(unwrap(client.GET('/api/v1/system/version'))).rejects.toMatchObject({ code: 'AUTH_REQUIRED' });

    expect(server.refreshes()).toHaveLength(1);
    expect(client.session.refreshToken).toBeUndefined();
    expect(told).toEqual([undefined]);
  });

  test('session.refresh() refreshes on demand', async () => {
    const server = fakeAuthServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch, session: { refreshToken: server.storedRefreshToken() } });

    const [first, second] = await Promise.all([client.session.refresh(), client.session.refresh()]);

    expect(first).toEqual(tokenPair(2));
    expect(second).toBe(first);
    expect(server.refreshes()).toHaveLength(1);
    expect(client.session.accessToken).toBe('at_2');
  });
});

describe('logout', () => {
  test('revokes the refresh token and clears the session', async () => {
    const { server, client, told, getAgent } = setup();
    await client.login('ada@example.com', 'secret');

    await client.logout();

    expect(server.logouts().map((c) => JSON.parse(c.body) as unknown)).toEqual([{ refresh_token: 'rt_1' }]);
    expect(client.session.accessToken).toBeUndefined();
    expect(client.session.refreshToken).toBeUndefined();
    expect(told).toEqual([tokenPair(1), undefined]);
    await getAgent();
    expect(bearer(server.protectedCalls()[0])).toBeNull();
  });

  test('a token already refused still ends the session; without a session it sends nothing', async () => {
    const { server, client } = setup();
    await client.login('ada@example.com', 'secret');
    server.revokeRefreshTokens();

    await client.logout();
    await client.logout();

    expect(server.logouts()).toHaveLength(1);
    expect(client.session.refreshToken).toBeUndefined();
  });
});

describe('API-key mode', () => {
  test('sends X-API-Key, no bearer token, and never refreshes', async () => {
    const server = fakeAuthServer({ route: () => failure(401, 'AUTH_EXPIRED_TOKEN') });
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch, apiKey: 'opk_good' });

    await expect(unwrap(client.GET('/api/v1/system/version'))).rejects.toMatchObject({ code: 'AUTH_EXPIRED_TOKEN' });

    const [call] = server.protectedCalls();
    expect(call!.request.headers.get('X-API-Key')).toBe('opk_good');
    expect(bearer(call)).toBeNull();
    expect(server.refreshes()).toHaveLength(0);
    expect(server.calls).toHaveLength(1);
  });

  test('does not log in', async () => {
    const server = fakeAuthServer();
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch, apiKey: 'opk_good' });

    await expect(client.login('ada@example.com', 'secret')).rejects.toThrow(/API key/);
    expect(server.calls).toHaveLength(0);
  });
});
