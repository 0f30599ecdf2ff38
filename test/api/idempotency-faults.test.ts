// Idempotency keys when Redis stalls: a POST that met a paused Redis is refused 503 with Retry-After: 5,
// and the retry it was told to make is served (not 409 RES_IDEMPOTENCY_IN_FLIGHT for a minute because
// the claim written when Redis woke up outlived the request that made it). Claims live a few seconds
// past their holder, and a late write of an old holder never touches a newer claim. On a private
// redis-server, never the machine's shared one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../support/redis-server.ts';
import { createLogger } from '../../server/logger.ts';
import { CLAIM_MS, RedisIdempotencyStore } from '../../server/edge/idempotency.ts';
import { openSecretBox } from '../../server/auth/secret-box.ts';

let redis: PrivateRedis | undefined;
let server: TestServer | undefined;

beforeAll(async () => {
  if (!(await redisServerAvailable())) return;
  redis = await startPrivateRedis();
  server = await startTestServer({ REDIS_URL: redis.url, DB_TIMEOUT_MS: '1000' });
});
afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const key = () => `faults-${Math.random().toString(36).slice(2)}`;
const idempotencyKeys = async () => (await redis!.admin.keys(`${server!.redisKeyPrefix}idem:*`)).length;

describe('Idempotency-Key while Redis pauses', () => {
  it('serves the retry that the 503 asked for, after CLIENT PAUSE 3000 ALL', async (ctx) => {
    if (!server || !redis) return ctx.skip('needs redis-server');
    const body = newAgent();
    const k = key();
    await redis.admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
    const paused = await server.call('POST', '/api/v1/agents', { json: body, headers: { 'idempotency-key': k } });
    expect(paused.status).toBe(503);
    expect(paused.body.error.code).toBe('EXT_SERVICE_UNAVAILABLE');
    expect(paused.headers.get('retry-after')).toBe('5');

    await sleep(Number(paused.headers.get('retry-after')) * 1000);
    const retry = await server.call('POST', '/api/v1/agents', { json: body, headers: { 'idempotency-key': k } });
    expect(retry.body?.error?.code ?? null).toBeNull();
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();

    const replay = await server.call('POST', '/api/v1/agents', { json: body, headers: { 'idempotency-key': k } });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.data.id).toBe(retry.body.data.id);
  }, 60_000);

  it('leaves no claim behind once Redis has woken up from a pause that refused the request', async (ctx) => {
    if (!server || !redis) return ctx.skip('needs redis-server');
    const before = await idempotencyKeys();
    await redis.admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const paused = await server.call('POST', '/api/v1/agents', { json: newAgent(), headers: { 'idempotency-key': key() } });
    expect(paused.status).toBe(503);
    // Redis is back 1.5 s after the pause began: the late claim is withdrawn as soon as it is written.
    await sleep(1500);
    await expect.poll(idempotencyKeys, { timeout: 1500, interval: 100 }).toBe(before);
  }, 60_000);
});

describe('idempotency claims on Redis', () => {
  const log = createLogger('silent');
  const store = async () => new RedisIdempotencyStore(await redisConnection(), 'claims-test:', log, await openSecretBox(server!.database.db, undefined, log));
  const connections: { disconnect(): void }[] = [];
  async function redisConnection() {
    const { Redis } = await import('ioredis');
    const connection = new Redis(redis!.url, { maxRetriesPerRequest: 1, commandTimeout: 1000 });
    connections.push(connection);
    return connection;
  }
  afterAll(() => connections.forEach((c) => c.disconnect()));

  it('keeps a claim a few seconds past its holder, and for as long as the holder works', async (ctx) => {
    if (!server || !redis) return ctx.skip('needs redis-server');
    const holder = await store();
    const k = key();
    expect((await holder.begin(k, 'f')).kind).toBe('first');
    const ttl = await redis.admin.pttl(`claims-test:idem:${k}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10_000);
    // Working longer than a claim lives: the holder keeps it.
    await sleep(ttl + 1000);
    await expect(holder.begin(k, 'f')).rejects.toMatchObject({ code: 'RES_IDEMPOTENCY_IN_FLIGHT' });
    await holder.release(k);
    expect(await redis.admin.exists(`claims-test:idem:${k}`)).toBe(0);
  }, 30_000);

  it('lets the claim of a holder that is gone (its process died) expire within a few seconds', async (ctx) => {
    if (!server || !redis) return ctx.skip('needs redis-server');
    const connection = await redisConnection();
    const holder = new RedisIdempotencyStore(connection, 'claims-test:', log, await openSecretBox(server.database.db, undefined, log));
    const k = key();
    expect((await holder.begin(k, 'f')).kind).toBe('first');
    connection.disconnect();
    await expect.poll(() => redis!.admin.exists(`claims-test:idem:${k}`), { timeout: CLAIM_MS + 2000, interval: 250 }).toBe(0);
  }, 30_000);

  it('lets a late release of an old claim leave a newer claim alone', async (ctx) => {
    if (!server || !redis) return ctx.skip('needs redis-server');
    const [first, second] = [await store(), await store()];
    const k = key();
    expect((await first.begin(k, 'f')).kind).toBe('first');
    // The first holder's claim is lost (it expired while its process stalled); another process claims the key.
    await redis.admin.del(`claims-test:idem:${k}`);
    expect((await second.begin(k, 'f')).kind).toBe('first');
    await first.release(k);
    await expect(first.begin(k, 'f')).rejects.toMatchObject({ code: 'RES_IDEMPOTENCY_IN_FLIGHT' });
    await second.release(k);
    expect(await redis.admin.exists(`claims-test:idem:${k}`)).toBe(0);
  });
});
