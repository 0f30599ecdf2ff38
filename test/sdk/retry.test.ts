import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { createOpsdeckClient, OpsdeckError, unwrap } from '@opsdeck/sdk';
import { agent, failure, fakeFetch, json, meta, ok } from './fake-server.ts';

const baseUrl = 'https://opsdeck.test';
const agent_id = agent(1).id;
const newAgent = { hostname: 'web-9.prod.example.com', ip_address: '10.0.4.9', platform: 'linux' } as const;
const created = () => json(201, { success: true, data: agent(9), meta: meta() });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

test('a 429 is retried after Retry-After seconds, then succeeds with the same request id', async () => {
  const { fetch, calls } = fakeFetch((_, i) => (i === 0 ? failure(429, 'RATE_LIMIT_EXCEEDED', { 'Retry-After': '2' }) : ok(agent(1))));
  const client = createOpsdeckClient({ baseUrl, fetch });

  const result = unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }));
  await vi.advanceTimersByTimeAsync(1999);
  expect(calls).toHaveLength(1);
  await vi.advanceTimersByTimeAsync(1);

  await expect(result).resolves.toEqual(agent(1));
  expect(calls).toHaveLength(2);
  expect(calls[1]!.request.headers.get('X-Request-ID')).toBe(calls[0]!.request.headers.get('X-Request-ID'));
});

test('Retry-After as an HTTP date is honoured', async () => {
  vi.setSystemTime(new Date('2026-11-21T10:00:00Z'));
  const { fetch, calls } = fakeFetch((_, i) =>
    i === 0 ? failure(503, 'EXT_SERVICE_UNAVAILABLE', { 'Retry-After': 'Sat, 21 Nov 2026 10:00:05 GMT' }) : ok(agent(1)),
  );
  const client = createOpsdeckClient({ baseUrl, fetch });

  const result = unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }));
  await vi.advanceTimersByTimeAsync(4999);
  expect(calls).toHaveLength(1);
  await vi.advanceTimersByTimeAsync(1);

  await expect(result).resolves.toEqual(agent(1));
});

test('after maxAttempts the last failure is returned', async () => {
  const { fetch, calls } = fakeFetch(() => failure(503, 'EXT_SERVICE_UNAVAILABLE'));
  const client = createOpsdeckClient({ baseUrl, fetch, retries: { maxAttempts: 4 } });

  const result = unwrap(client.GET('/api/v1/system/version')).catch((e: unknown) => e);
  await vi.runAllTimersAsync();

  expect(await result).toMatchObject({ code: 'EXT_SERVICE_UNAVAILABLE', status: 503 });
  expect(calls).toHaveLength(4);
});

test('network errors are retried', async () => {
  let failures = 1;
  const { fetch, calls } = fakeFetch(() => {
    if (failures-- > 0) throw new TypeError('fetch failed');
    return ok(agent(1));
  });
  const client = createOpsdeckClient({ baseUrl, fetch });

  const result = unwrap(client.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }));
  await vi.runAllTimersAsync();

  await expect(result).resolves.toEqual(agent(1));
  expect(calls).toHaveLength(2);
});

test('a POST without Idempotency-Key is not retried', async () => {
  const { fetch, calls } = fakeFetch(() => failure(503, 'EXT_SERVICE_UNAVAILABLE', { 'Retry-After': '1' }));
  const client = createOpsdeckClient({ baseUrl, fetch });

  const error = await unwrap(client.POST('/api/v1/agents', { body: newAgent })).catch((e: unknown) => e);

  expect(error).toBeInstanceOf(OpsdeckError);
  expect(calls).toHaveLength(1);
});

test('a POST with Idempotency-Key is retried with the same body', async () => {
  const { fetch, calls } = fakeFetch((_, i) => (i === 0 ? failure(429, 'RATE_LIMIT_EXCEEDED', { 'Retry-After': '1' }) : created()));
  const client = createOpsdeckClient({ baseUrl, fetch });

  const result = unwrap(client.POST('/api/v1/agents', { body: newAgent, headers: { 'Idempotency-Key': 'key-123' } }));
  await vi.runAllTimersAsync();

  await expect(result).resolves.toEqual(agent(9));
  expect(calls).toHaveLength(2);
  expect(calls.map((c) => JSON.parse(c.body) as unknown)).toEqual([newAgent, newAgent]);
  expect(calls[1]!.request.headers.get('Idempotency-Key')).toBe('key-123');
});

test('retries: false turns retries off', async () => {
  const { fetch, calls } = fakeFetch(() => failure(503, 'EXT_SERVICE_UNAVAILABLE'));
  const client = createOpsdeckClient({ baseUrl, fetch, retries: false });

  await unwrap(client.GET('/api/v1/system/version')).catch(() => undefined);

  expect(calls).toHaveLength(1);
});
