// Sign-in, sessions and API keys over HTTP, and the attacks on them: each is refused with the right
// code, and nothing is changed.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http } from '../support/http.ts';
import { bearer, createUser, login, TEST_PASSWORD, type TestUser } from '../support/identity.ts';

const JWT_SECRET = 'a-test-secret-that-is-long-enough-0123456789';
let server: TestServer;
let operator: TestUser;
let viewer: TestUser;

beforeAll(async () => {
  server = await startTestServer({ JWT_SECRET });
  operator = await createUser(server.url, server.adminToken, 'operator', [server.teamId]);
  viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId]);
});
afterAll(async () => {
  await server?.close();
});

const as = (token: string) => (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: bearer(token), ...(json === undefined ? {} : { json }) });
const key = new TextEncoder().encode(JWT_SECRET);
const sign = (claims: { sub: string; aud?: string; iss?: string; exp?: number; iat?: number }, secret = key) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuer(claims.iss ?? 'opsdeck')
    .setAudience(claims.aud ?? 'opsdeck-api')
    .setIssuedAt(claims.iat ?? Math.floor(Date.now() / 1000))
    .setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 600)
    .sign(secret);

describe('login', () => {
  it('answers a token pair for good credentials, and the token works', async () => {
    const pair = await login(server.url, operator.email.toUpperCase(), TEST_PASSWORD);
    expect(pair).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    const profile = await as(pair.access_token)('GET', '/api/v1/auth/profile');
    expect(profile.status).toBe(200);
    expect(profile.body.data).toMatchObject({ email: operator.email, role: 'operator' });
    expect(profile.body.data).not.toHaveProperty('password_hash');
  });

  it('refuses a wrong password and an unknown email alike', async () => {
    const wrong = await http(server.url, 'POST', '/api/v1/auth/login', { json: { email: operator.email, password: 'not-the-password' } });
    const unknown = await http(server.url, 'POST', '/api/v1/auth/login', { json: { email: 'nobody@test.example.com', password: 'not-the-password' } });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('AUTH_INVALID_CREDENTIALS');
    }
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
  });

  it('throttles failed logins per account, with Retry-After, and keeps other accounts open', async () => {
    const target = await createUser(server.url, server.adminToken, 'viewer', [], 'throttled');
    const attempt = (password: string, email = target.email) => http(server.url, 'POST', '/api/v1/auth/login', { json: { email, password }, headers: { 'x-forwarded-for': '203.0.113.9' } });
    for (let i = 0; i < 5; i += 1) expect((await attempt('wrong-password-x')).status).toBe(401);
    const blocked = await attempt(TEST_PASSWORD);
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await login(server.url, operator.email, TEST_PASSWORD)).access_token).toBeTruthy();
  });
});

describe('refresh tokens', () => {
  it('rotate: a refresh answers a new pair and spends the old token', async () => {
    const first = await login(server.url, operator.email, TEST_PASSWORD);
    const refreshed = await http(server.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: first.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.data.refresh_token).not.toBe(first.refresh_token);
    expect((await as(refreshed.body.data.access_token)('GET', '/api/v1/auth/profile')).status).toBe(200);
  });

  it('a replayed refresh token revokes its whole family', async () => {
    const first = await login(server.url, operator.email, TEST_PASSWORD);
    const second = (await http(server.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: first.refresh_token } })).body.data;
    const replay = await http(server.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: first.refresh_token } });
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('AUTH_INVALID_TOKEN');
    // The legitimate newer token is gone too: the family is revoked.
    const afterReplay = await http(server.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: second.refresh_token } });
    expect(afterReplay.status).toBe(401);
  });

  it('logout revokes the refresh token', async () => {
    const pair = await login(server.url, operator.email, TEST_PASSWORD);
    expect((await http(server.url, 'POST', '/api/v1/auth/logout', { json: { refresh_token: pair.refresh_token } })).status).toBe(204);
    expect((await http(server.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: pair.refresh_token } })).status).toBe(401);
  });
});

describe('access tokens under attack', () => {
  const expectRefused = async (token: string, code: string) => {
    const res = await as(token)('GET', '/api/v1/auth/profile');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe(code);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  };

  it('refuses alg none', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: operator.id, iss: 'opsdeck', aud: 'opsdeck-api', iat: 1, exp: 4102444800 })).toString('base64url');
    await expectRefused(`${header}.${payload}.`, 'AUTH_INVALID_TOKEN');
  });

  it('refuses a wrong signature, a wrong audience, a wrong issuer', async () => {
    await expectRefused(await sign({ sub: operator.id }, new TextEncoder().encode('another-secret-that-is-long-enough-012345')), 'AUTH_INVALID_TOKEN');
    await expectRefused(await sign({ sub: operator.id, aud: 'someone-else' }), 'AUTH_INVALID_TOKEN');
    await expectRefused(await sign({ sub: operator.id, iss: 'evil' }), 'AUTH_INVALID_TOKEN');
  });

  it('refuses an expired token with AUTH_EXPIRED_TOKEN', async () => {
    await expectRefused(await sign({ sub: operator.id, exp: Math.floor(Date.now() / 1000) - 10 }), 'AUTH_EXPIRED_TOKEN');
  });

  it('accepts a well-signed token (the forged ones above differ only in what they break)', async () => {
    expect((await as(await sign({ sub: operator.id }))('GET', '/api/v1/auth/profile')).status).toBe(200);
  });

  it('refuses tokens issued before a password change', async () => {
    const user = await createUser(server.url, server.adminToken, 'viewer', [], 'changer');
    // `iat` counts seconds: let one pass so a token of the previous second is still valid before the change.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const old = await sign({ sub: user.id, iat: Math.floor(Date.now() / 1000) - 1 });
    expect((await as(old)('GET', '/api/v1/auth/profile')).status).toBe(200);
    const changed = await as(user.token)('POST', '/api/v1/auth/password', { current_password: TEST_PASSWORD, new_password: 'a-brand-new-password' });
    expect(changed.status).toBe(204);
    await expectRefused(old, 'AUTH_INVALID_TOKEN');
    expect((await http(server.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: user.refreshToken } })).status).toBe(401);
    expect((await login(server.url, user.email, 'a-brand-new-password')).access_token).toBeTruthy();
  });
});

describe('mass assignment', () => {
  it('a viewer cannot set its own role through PATCH, and nothing changes', async () => {
    const before = (await as(viewer.token)('GET', '/api/v1/auth/profile')).body.data;
    const viaProfile = await as(viewer.token)('PATCH', '/api/v1/auth/profile', { role: 'admin' });
    expect(viaProfile.status).toBe(422);
    expect(viaProfile.body.error.details[0].field).toBe('role');
    const viaAdmin = await as(viewer.token)('PATCH', `/api/v1/admin/users/${viewer.id}`, { role: 'admin' });
    expect(viaAdmin.status).toBe(403);
    expect(viaAdmin.body.error.code).toBe('PERM_DENIED');
    expect((await as(viewer.token)('GET', '/api/v1/auth/profile')).body.data).toEqual(before);
  });

  it('an administrator cannot demote or delete itself', async () => {
    const admin = await as(server.adminToken)('GET', '/api/v1/auth/profile');
    const demote = await as(server.adminToken)('PATCH', `/api/v1/admin/users/${admin.body.data.id}`, { role: 'viewer' });
    expect(demote.status).toBe(409);
    expect((await as(server.adminToken)('DELETE', `/api/v1/admin/users/${admin.body.data.id}`)).status).toBe(409);
  });
});

describe('API keys', () => {
  const createKey = async (token: string, scopes: string[]) => as(token)('POST', '/api/v1/api-keys', { name: 'test', scopes });
  const withKey = (secret: string, method: string, path: string, json?: unknown) =>
    http(server.url, method, path, { headers: { 'x-api-key': secret }, ...(json === undefined ? {} : { json }) });

  it('shows the secret once, stores only its digest, and works in X-API-Key', async () => {
    const created = await createKey(operator.token, ['agents:read']);
    expect(created.status).toBe(201);
    const { secret, id, prefix } = created.body.data;
    expect(secret.startsWith(`${prefix}_`)).toBe(true);
    const stored = await server.database.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(stored.secret_hash).not.toContain(secret);
    expect(JSON.stringify(stored)).not.toContain(secret.slice(prefix.length + 1));
    const listed = await as(operator.token)('GET', '/api/v1/api-keys');
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect((await withKey(secret, 'GET', '/api/v2/agents')).status).toBe(200);
    const used = await as(operator.token)('GET', '/api/v1/api-keys');
    expect(used.body.data.find((k: { id: string }) => k.id === id).last_used_at).not.toBeNull();
  });

  it('a key only has its scopes: other operations are 403', async () => {
    const { secret } = (await createKey(operator.token, ['agents:read'])).body.data;
    const write = await withKey(secret, 'POST', '/api/v1/agents', { hostname: 'k.example.com', ip_address: '10.0.0.9', platform: 'linux' });
    expect(write.status).toBe(403);
    expect(write.body.error.code).toBe('PERM_DENIED');
  });

  it('scopes can only narrow the owner: a viewer cannot make an agents:write key', async () => {
    const res = await createKey(viewer.token, ['agents:write']);
    expect(res.status).toBe(422);
    expect(res.body.error.details[0]).toMatchObject({ field: 'scopes', value: 'agents:write' });
  });

  it('a key narrows when its owner is demoted', async () => {
    const owner = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'demoted');
    const { secret } = (await createKey(owner.token, ['agents:read', 'agents:write'])).body.data;
    const body = { hostname: `demoted-${Date.now()}.example.com`, ip_address: '10.0.0.10', platform: 'linux' };
    expect((await withKey(secret, 'POST', '/api/v1/agents', body)).status).toBe(201);
    expect((await as(server.adminToken)('PATCH', `/api/v1/admin/users/${owner.id}`, { role: 'viewer' })).status).toBe(200);
    const after = await withKey(secret, 'POST', '/api/v1/agents', { ...body, hostname: `x${body.hostname}` });
    expect(after.status).toBe(403);
    expect((await withKey(secret, 'GET', '/api/v2/agents')).status).toBe(200);
  });

  it('a revoked key is refused with AUTH_INVALID_TOKEN', async () => {
    const { secret, id } = (await createKey(operator.token, ['agents:read'])).body.data;
    expect((await as(operator.token)('DELETE', `/api/v1/api-keys/${id}`)).status).toBe(204);
    const res = await withKey(secret, 'GET', '/api/v2/agents');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('AUTH_INVALID_TOKEN');
  });

  it('a forged key with a real prefix is refused', async () => {
    const { prefix } = (await createKey(operator.token, ['agents:read'])).body.data;
    const res = await withKey(`${prefix}_${'A'.repeat(43)}`, 'GET', '/api/v2/agents');
    expect(res.status).toBe(401);
  });

  it('a deactivated user can no longer use its token or its keys', async () => {
    const user = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'leaver');
    const { secret } = (await createKey(user.token, ['agents:read'])).body.data;
    expect((await as(server.adminToken)('PATCH', `/api/v1/admin/users/${user.id}`, { active: false })).status).toBe(200);
    expect((await as(user.token)('GET', '/api/v2/agents')).status).toBe(401);
    expect((await withKey(secret, 'GET', '/api/v2/agents')).status).toBe(401);
    expect((await http(server.url, 'POST', '/api/v1/auth/login', { json: { email: user.email, password: TEST_PASSWORD } })).status).toBe(401);
  });
});
