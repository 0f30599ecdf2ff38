// Enrolment is limited per enrollment token (the `enrollment` limiter of x-rate-limits), not per client
// address: a fleet booting behind one NAT address enrols in a burst. Tokens that are refused or missing still
// spend from the address's anonymous bucket, so guessing tokens stays limited. Real Redis, real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootExtensions } from '../../server/contract.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent, type RawResponse } from '../support/http.ts';

const tight = (burst: number) => ({ requests_per_minute: 60, burst });
const generous = { requests_per_minute: 600_000, burst: 100_000 };

async function newToken(server: TestServer, name: string): Promise<string> {
  return (await server.call('POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { json: { name } })).body.data.secret;
}

const enroll = (server: TestServer, json: Record<string, unknown>): Promise<RawResponse> => http(server.url, 'POST', '/api/v1/agent/enroll', { json });

/** Runs `work` for 0..n-1, `concurrency` at a time. */
async function inParallel<T>(n: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

describe('enrolment limits (spec defaults for the enrollment limiter, a tight anonymous tier)', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The enrollment limiter is left as the spec declares it; the address's bucket holds 5.
    server = await startTestServer({
      RATE_LIMITS: JSON.stringify({ tiers: { anonymous: tight(5), authenticated: generous, premium: generous, admin: generous }, limiters: { login: generous } }),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('declares the limiter per enrollment token, with a burst a booting fleet fits in', () => {
    expect(rootExtensions['x-rate-limits'].limiters.enrollment).toMatchObject({ per: 'enrollment_token' });
    expect(rootExtensions['x-rate-limits'].limiters.enrollment!.burst).toBeGreaterThanOrEqual(1000);
  });

  it('enrols 1,000 hosts from one address in a burst, each spending from its token’s bucket', async () => {
    const token = await newToken(server, 'autoscaling group');
    const answers = await inParallel(1000, 50, (i) => enroll(server, { enrollment_token: token, ...newAgent({ hostname: `asg-${i}.prod.example.com` }) }));
    const statuses = answers.reduce<Record<number, number>>((counts, r) => ({ ...counts, [r.status]: (counts[r.status] ?? 0) + 1 }), {});
    expect(statuses).toEqual({ 201: 1000 });
    const prefix = token.slice(0, 12);
    expect(answers[0]!.headers.get('x-ratelimit-bucket')).toBe(`enrollment:${prefix}`);
    expect(Number(answers[0]!.headers.get('x-ratelimit-limit'))).toBe(rootExtensions['x-rate-limits'].limiters.enrollment!.burst);
    const ids = new Set(answers.map((r) => r.body.data.agent.id));
    expect(ids.size).toBe(1000);
  });

  it('makes refused and missing tokens spend from the address’s bucket, and a good token still enrols', async () => {
    const guesses = [];
    for (let i = 0; i < 8; i += 1) guesses.push(await enroll(server, { enrollment_token: `oet_GUESS00${i}_${'x'.repeat(24)}`, ...newAgent() }));
    const refused = guesses.filter((r) => r.status === 401);
    const limited = guesses.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(refused.length).toBeLessThanOrEqual(6); // a token may refill while the requests run
    expect(limited.length).toBeGreaterThanOrEqual(2);
    expect(limited[0]!.body.error.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(limited[0]!.headers.get('x-ratelimit-bucket')).toBe('ip:127.0.0.1/anonymous');
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // A body without a token spends from the address too (and is refused by it now).
    const missing = await enroll(server, { ...newAgent() });
    expect(missing.status).toBe(429);
    // The address's bucket being empty does not stop a host with a valid token.
    const good = await enroll(server, { enrollment_token: await newToken(server, 'after guesses'), ...newAgent() });
    expect(good.status).toBe(201);
  });
});

describe('enrolment limits (a small enrollment limiter)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      RATE_LIMITS: JSON.stringify({ tiers: { anonymous: generous, authenticated: generous, premium: generous, admin: generous }, limiters: { login: generous, enrollment: tight(3) } }),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('limits each token on its own: one token’s burst spent does not touch another’s', async () => {
    const first = await newToken(server, 'first');
    const second = await newToken(server, 'second');
    const answers = [];
    for (let i = 0; i < 5; i += 1) answers.push(await enroll(server, { enrollment_token: first, ...newAgent() }));
    expect(answers.map((r) => r.status).slice(0, 3)).toEqual([201, 201, 201]);
    expect(answers.at(-1)!.status).toBe(429);
    expect(answers.at(-1)!.headers.get('x-ratelimit-bucket')).toBe(`enrollment:${first.slice(0, 12)}`);
    expect((await enroll(server, { enrollment_token: second, ...newAgent() })).status).toBe(201);
  });
});
