// Idempotency keys with Stripe's semantics, on real Redis: replay, mismatch, in-flight duplicates,
// scope per caller, nothing stored for a request that failed validation, answers sealed in Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysMatching, startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createUser } from '../support/identity.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const key = () => `test-${Math.random().toString(36).slice(2)}`;
const countByHostname = async (hostname: string) =>
  (await server.database.db.selectFrom('agents').select('id').where('hostname', '=', hostname).execute()).length;

describe('Idempotency-Key', () => {
  it('replays the first answer (status, headers, body) with Idempotent-Replayed: true, doing the work once', async () => {
    const body = newAgent();
    const k = key();
    const first = await server.call('POST', '/api/v1/agents', { json: body, headers: { 'idempotency-key': k } });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await server.call('POST', '/api/v1/agents', { json: body, headers: { 'idempotency-key': k } });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(again.body).toEqual(first.body);
    expect(await countByHostname(String(body.hostname))).toBe(1);
  });

  it('refuses the same key with a different request with 422', async () => {
    const k = key();
    expect((await server.call('POST', '/api/v1/agents', { json: newAgent(), headers: { 'idempotency-key': k } })).status).toBe(201);
    const other = await server.call('POST', '/api/v1/agents', { json: newAgent(), headers: { 'idempotency-key': k } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('VAL_IDEMPOTENCY_KEY_REUSED');
  });

  it('creates exactly one resource from 50 concurrent identical requests with one key', async () => {
    const body = newAgent();
    const k = key();
    const answers = await Promise.all(Array.from({ length: 50 }, () => server.call('POST', '/api/v1/agents', { json: body, headers: { 'idempotency-key': k } })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 201 || s === 409), JSON.stringify(answers.filter((a) => a.status !== 201 && a.status !== 409).map((a) => a.body))).toBe(true);
    const created = answers.filter((a) => a.status === 201);
    expect(new Set(created.map((a) => a.body.data.id)).size).toBe(1);
    for (const inFlight of answers.filter((a) => a.status === 409)) {
      expect(inFlight.body.error.code).toBe('RES_IDEMPOTENCY_IN_FLIGHT');
      expect(inFlight.headers.get('retry-after')).toBe('1');
    }
    expect(await countByHostname(String(body.hostname))).toBe(1);
  });

  it('replays a refusal too: a duplicate hostname stays 409 under the same key', async () => {
    const body = newAgent();
    await server.call('POST', '/api/v1/agents', { json: body });
    const k = key();
    const first = await server.call('POST', '/api/v1/agents', { json: body, headers: { 'idempotency-key': k } });
    expect(first.status).toBe(409);
    const again = await server.call('POST', '/api/v1/agents', { json: body, headers: { 'idempotency-key': k } });
    expect(again.status).toBe(409);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.error.code).toBe('RES_ALREADY_EXISTS');
  });

  it('stores nothing for a request that failed validation', async () => {
    const k = key();
    const invalid = await server.call('POST', '/api/v1/agents', { json: { hostname: '' }, headers: { 'idempotency-key': k } });
    expect(invalid.status).toBe(422);
    const valid = await server.call('POST', '/api/v1/agents', { json: newAgent(), headers: { 'idempotency-key': k } });
    expect(valid.status).toBe(201);
    expect(valid.headers.get('idempotent-replayed')).toBeNull();
  });

  it('scopes keys to the caller', async () => {
    const other = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'other');
    const k = key();
    const mine = await server.call('POST', '/api/v1/agents', { json: newAgent(), headers: { 'idempotency-key': k } });
    const theirs = await http(server.url, 'POST', '/api/v1/agents', { json: newAgent(), headers: { ...bearer(other.token), 'idempotency-key': k } });
    expect(mine.status).toBe(201);
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.data.id).not.toBe(mine.body.data.id);
  });

  it('keeps the record 24 hours in Redis', async (ctx) => {
    const redis = server.redis;
    if (!redis) return ctx.skip('no Redis here: records live in the process');
    await server.call('POST', '/api/v1/agents', { json: newAgent(), headers: { 'idempotency-key': key() } });
    const keys = await keysMatching(redis, `${server.redisKeyPrefix}idem:*`);
    expect(keys.length).toBeGreaterThan(0);
    const ttls = await Promise.all(keys.map((name) => redis.pttl(name)));
    expect(Math.max(...ttls)).toBeGreaterThan(23 * 3600 * 1000);
  });

  it('replays a secret shown once, but Redis never holds it in clear', async (ctx) => {
    const redis = server.redis;
    if (!redis) return ctx.skip('no Redis here: records live in the process');
    const k = key();
    const first = await server.call('POST', '/api/v1/api-keys', { json: { name: 'ci', scopes: ['agents:read'] }, headers: { 'idempotency-key': k } });
    expect(first.status).toBe(201);
    const secret = first.body.data.secret as string;
    const again = await server.call('POST', '/api/v1/api-keys', { json: { name: 'ci', scopes: ['agents:read'] }, headers: { 'idempotency-key': k } });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.data.secret).toBe(secret);
    const stored = await Promise.all((await keysMatching(redis, `${server.redisKeyPrefix}idem:*`)).map((name) => redis.get(name)));
    expect(stored.length).toBeGreaterThan(0);
    for (const value of stored) {
      expect(value).not.toContain(secret);
      expect(value).not.toContain(secret.slice(-16));
    }
  });
});
