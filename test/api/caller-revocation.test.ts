// Callers are cached per process (server/auth/caller-cache.ts), so a change to who may do what must still
// reach every process quickly. Two processes share PostgreSQL and Redis: A, a real child (`node
// server/main.ts`), has each credential cached by a request that succeeded there; the change is made on B;
// then A must refuse within 1 s. A reaches Redis through a proxy the test cuts, to show that the bound does
// not depend on Redis (the cache follows a feed in PostgreSQL). The same-second password change is the third
// reproduction of the pipeline issue: a token issued in the second of a change made with it is refused after.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, testRedis, type TestDatabase } from '../support/backends.ts';
import { startChildServer, type ChildServer } from '../support/child-server.ts';
import { http } from '../support/http.ts';
import { bearer, createTeam, createUser, login, TEST_ADMIN, TEST_PASSWORD, type TestUser } from '../support/identity.ts';
import { dropKeys } from '../support/server.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const JWT_SECRET = randomBytes(32).toString('hex');
const redisKeyPrefix = `opsdeck-test:${process.pid}:revoke-${randomBytes(3).toString('hex')}:`;
/** The promise: every process refuses within 1 s. */
const WITHIN_MS = 1000;

let database: TestDatabase;
let redisProxy: TcpProxy | undefined;
let a: ChildServer | undefined;
let b: RunningServer | undefined;
let admin: string;
let teamId: string;

function env(extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: database.url!,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    JWT_SECRET,
    OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
    OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
    OPSDECK_DEMO_DATA: 'false',
    RATE_LIMIT_TIMEOUT_MS: '50',
    // Many sign-ins from one address in a few seconds; the login limiter is not what this file is about.
    RATE_LIMITS: JSON.stringify({ limiters: { login: { requests_per_minute: 6000, burst: 1000 } } }),
    ...extra,
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  const redisUrl = await testRedis();
  if (!database.url || !redisUrl) return;
  const target = new URL(redisUrl);
  redisProxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
  const config = loadConfig(env({ REDIS_URL: redisUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' }));
  b = await startServer(config, createLogger(config.logLevel));
  a = await startChildServer(env({ REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`, BACKGROUND_WORKERS: 'false' }), 60_000);
  admin = (await login(b.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
  teamId = await createTeam(b.url, admin, 'Revocation');
}, 90_000);

afterAll(async () => {
  a?.process.kill('SIGKILL');
  await redisProxy?.close();
  if (b?.redis?.status === 'ready') await dropKeys(b.redis, redisKeyPrefix);
  await b?.stop();
  await database?.drop();
});

type Headers = Record<string, string>;
const onA = (method: string, path: string, headers: Headers, json?: unknown) => http(a!.url, method, path, { headers, json });
const onB = (method: string, path: string, headers: Headers, json?: unknown) => http(b!.url, method, path, { headers, json });

/** How long after `since` (when the change was acknowledged) A first answers `status` to the request (polled every 25 ms); fails past 3 s. */
async function refusedAfter(since: number, status: number, request: () => ReturnType<typeof onA>): Promise<number> {
  for (;;) {
    const res = await request();
    if (res.status === status) return performance.now() - since;
    if (performance.now() - since > 3000) throw new Error(`A still answers ${res.status} (${res.text.slice(0, 200)}) 3 s after the change`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A user whose credential A has just resolved (and so cached). */
async function warmUser(role: 'operator' | 'viewer' = 'operator'): Promise<TestUser> {
  const user = await createUser(b!.url, admin, role, [teamId]);
  expect((await onA('GET', '/api/v1/auth/profile', bearer(user.token))).status).toBe(200);
  return user;
}

async function apiKeyOf(user: TestUser): Promise<{ id: string; key: string }> {
  const res = await onB('POST', '/api/v1/api-keys', bearer(user.token), { name: 'revocation', scopes: ['agents:read', 'agents:write'] });
  expect(res.status, res.text).toBe(201);
  expect((await onA('GET', '/api/v1/agents/summary', { 'x-api-key': res.body.data.secret })).status).toBe(200);
  return { id: res.body.data.id, key: res.body.data.secret };
}

describe('a change to a caller, made on one process, holds on another within 1 s', () => {
  it('with Redis cut off from the process that must see it', async (context) => {
    if (!a || !b || !redisProxy) return context.skip();
    // From here on A has no Redis: its rate limiter allows after RATE_LIMIT_TIMEOUT_MS; its caller cache never used Redis.
    redisProxy.cut('refuse');
    try {
      const user = await warmUser();
      expect((await onB('PATCH', `/api/v1/admin/users/${user.id}`, bearer(admin), { active: false })).status).toBe(200);
      const start = performance.now();
      expect(await refusedAfter(start, 401, () => onA('GET', '/api/v1/auth/profile', bearer(user.token)))).toBeLessThan(WITHIN_MS);
    } finally {
      redisProxy.restore();
    }
  });

  it('deactivating, deleting a user', async (context) => {
    if (!a || !b) return context.skip();
    const deactivated = await warmUser();
    expect((await onB('PATCH', `/api/v1/admin/users/${deactivated.id}`, bearer(admin), { active: false })).status).toBe(200);
    let start = performance.now();
    expect(await refusedAfter(start, 401, () => onA('GET', '/api/v1/auth/profile', bearer(deactivated.token)))).toBeLessThan(WITHIN_MS);

    const deleted = await warmUser();
    expect((await onB('DELETE', `/api/v1/admin/users/${deleted.id}`, bearer(admin))).status).toBe(204);
    start = performance.now();
    expect(await refusedAfter(start, 401, () => onA('GET', '/api/v1/auth/profile', bearer(deleted.token)))).toBeLessThan(WITHIN_MS);
  });

  it('changing a role, removing a team membership', async (context) => {
    if (!a || !b) return context.skip();
    const demoted = await warmUser('operator');
    const agent = { hostname: `revoke-${randomBytes(3).toString('hex')}`, ip_address: '10.0.0.7', platform: 'linux', team_id: teamId };
    const created = await onA('POST', '/api/v1/agents', bearer(demoted.token), agent);
    expect(created.status, created.text).toBe(201);
    expect((await onB('PATCH', `/api/v1/admin/users/${demoted.id}`, bearer(admin), { role: 'viewer' })).status).toBe(200);
    let start = performance.now();
    expect(await refusedAfter(start, 403, () => onA('DELETE', `/api/v1/agents/${created.body.data.id}`, bearer(demoted.token)))).toBeLessThan(WITHIN_MS);

    const member = await warmUser();
    expect((await onA('GET', `/api/v1/teams/${teamId}`, bearer(member.token))).status).toBe(200);
    expect((await onB('DELETE', `/api/v1/teams/${teamId}/members/${member.id}`, bearer(admin))).status).toBe(204);
    start = performance.now();
    expect(await refusedAfter(start, 404, () => onA('GET', `/api/v1/teams/${teamId}`, bearer(member.token)))).toBeLessThan(WITHIN_MS);
  });

  it('changing a password', async (context) => {
    if (!a || !b) return context.skip();
    const user = await warmUser();
    const changed = await onB('POST', '/api/v1/auth/password', bearer(user.token), { current_password: TEST_PASSWORD, new_password: 'a-new-password-for-tests-2' });
    expect(changed.status, changed.text).toBe(204);
    const start = performance.now();
    expect(await refusedAfter(start, 401, () => onA('GET', '/api/v1/auth/profile', bearer(user.token)))).toBeLessThan(WITHIN_MS);
  });

  it('revoking an API key, and the owner losing what the key carried', async (context) => {
    if (!a || !b) return context.skip();
    const user = await warmUser();
    const revoked = await apiKeyOf(user);
    expect((await onB('DELETE', `/api/v1/api-keys/${revoked.id}`, bearer(user.token))).status).toBe(204);
    let start = performance.now();
    expect(await refusedAfter(start, 401, () => onA('GET', '/api/v1/agents/summary', { 'x-api-key': revoked.key }))).toBeLessThan(WITHIN_MS);

    const narrowed = await apiKeyOf(user);
    const agent = { hostname: `key-${randomBytes(3).toString('hex')}`, ip_address: '10.0.0.8', platform: 'linux', team_id: teamId };
    expect((await onB('PATCH', `/api/v1/admin/users/${user.id}`, bearer(admin), { role: 'viewer' })).status).toBe(200);
    start = performance.now();
    expect(await refusedAfter(start, 403, () => onA('POST', '/api/v1/agents', { 'x-api-key': narrowed.key }, agent))).toBeLessThan(WITHIN_MS);
  });

  it('an API key past its expiry', async (context) => {
    if (!a || !b) return context.skip();
    const user = await warmUser();
    const expiresAt = new Date(Date.now() + 2500).toISOString();
    const res = await onB('POST', '/api/v1/api-keys', bearer(user.token), { name: 'short-lived', scopes: ['agents:read'], expires_at: expiresAt });
    expect(res.status, res.text).toBe(201);
    expect((await onA('GET', '/api/v1/agents/summary', { 'x-api-key': res.body.data.secret })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(expiresAt) - Date.now()));
    expect(await refusedAfter(Date.parse(expiresAt) - Date.now() + performance.now(), 401, () => onA('GET', '/api/v1/agents/summary', { 'x-api-key': res.body.data.secret }))).toBeLessThan(WITHIN_MS);
  });

  it('an agent key replaced by re-enrolment, and a deleted agent', async (context) => {
    if (!a || !b) return context.skip();
    const token = (await onB('POST', `/api/v1/teams/${teamId}/enrollment-tokens`, bearer(admin), { name: 'revocation' })).body.data.secret as string;
    const host = { hostname: `agent-${randomBytes(3).toString('hex')}`, ip_address: '10.0.0.9', platform: 'linux' };
    const first = await onB('POST', '/api/v1/agent/enroll', {}, { enrollment_token: token, ...host });
    expect(first.status, first.text).toBe(201);
    const heartbeat = (key: string) => onA('POST', '/api/v1/agent/heartbeat', { 'x-api-key': key });
    expect((await heartbeat(first.body.data.agent_key)).status).toBe(200);

    const second = await onB('POST', '/api/v1/agent/enroll', {}, { enrollment_token: token, ...host });
    expect(second.status).toBe(201);
    let start = performance.now();
    expect(await refusedAfter(start, 401, () => heartbeat(first.body.data.agent_key))).toBeLessThan(WITHIN_MS);

    expect((await heartbeat(second.body.data.agent_key)).status).toBe(200);
    expect((await onB('DELETE', `/api/v1/agents/${second.body.data.agent.id}`, bearer(admin))).status).toBe(204);
    start = performance.now();
    expect(await refusedAfter(start, 401, () => heartbeat(second.body.data.agent_key))).toBeLessThan(WITHIN_MS);
  });
});

describe('a password change signs out tokens of the same second', () => {
  it('a token issued in the second of a change, before it, is refused after it', async (context) => {
    if (!b) return context.skip();
    const user = await createUser(b.url, admin, 'viewer', [teamId]);
    // Both tokens come from the same second as the change; the one used for the change must stop working too.
    const issued = await login(b.url, user.email, TEST_PASSWORD);
    const changed = await onB('POST', '/api/v1/auth/password', bearer(issued.access_token), { current_password: TEST_PASSWORD, new_password: 'same-second-password-3' });
    expect(changed.status).toBe(204);
    expect((await onB('GET', '/api/v1/auth/profile', bearer(issued.access_token))).status).toBe(401);
    expect((await onB('GET', '/api/v1/auth/profile', bearer(user.token))).status).toBe(401);
    const fresh = await login(b.url, user.email, 'same-second-password-3');
    expect((await onB('GET', '/api/v1/auth/profile', bearer(fresh.access_token))).status).toBe(200);
  });
});
