// Two processes of one deployment share one PostgreSQL database and one Redis key prefix: an event
// caused on either reaches a stream open on the other. Process A, a real child (`node server/main.ts`),
// runs without background workers, so it never dispatches: every event on its streams was published by
// B's dispatcher and carried by Redis pub/sub; the same goes for a WebSocket open on A. The two share
// JWT_SECRET, so one access token works on both.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, testRedis, type TestDatabase } from '../support/backends.ts';
import { startChildServer, type ChildServer } from '../support/child-server.ts';
import { http } from '../support/http.ts';
import { bearer, createTeam, login, TEST_ADMIN } from '../support/identity.ts';
import { dropKeys } from '../support/server.ts';
import { openStream, streamEventProblems, type StreamMessage } from '../support/sse.ts';
import { TestSocket } from '../support/websocket.ts';

const JWT_SECRET = randomBytes(32).toString('hex');
const redisKeyPrefix = `opsdeck-test:${process.pid}:two-${randomBytes(3).toString('hex')}:`;

let database: TestDatabase;
let redisUrl: string | undefined;
let a: ChildServer | undefined;
let b: RunningServer | undefined;
let token: string;
let teamId: string;

/** The settings both processes share; each adds its own. */
function env(extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: database.url!,
    REDIS_URL: redisUrl!,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    JWT_SECRET,
    OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
    OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
    OPSDECK_DEMO_DATA: 'false',
    OUTBOX_POLL_MS: '50',
    EVENT_STREAM: JSON.stringify({ keepalive_seconds: 0.5, retry_ms: 200 }),
    ...extra,
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  redisUrl = await testRedis();
  // Two processes share the database and Redis: that takes the real ones (PGlite and the local bus live in one process).
  if (!database.url || !redisUrl) return;
  // B first: it creates the schema and the administrator; it runs the dispatcher.
  const config = loadConfig(env({ BACKGROUND_WORKERS: 'true', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' }));
  b = await startServer(config, createLogger(config.logLevel));
  a = await startChildServer(env({ BACKGROUND_WORKERS: 'false' }));
  token = (await login(b.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
  teamId = await createTeam(b.url, token, 'Two processes');
}, 60_000);

afterAll(async () => {
  a?.process.kill('SIGKILL');
  if (b?.redis?.status === 'ready') await dropKeys(b.redis, redisKeyPrefix);
  await b?.stop();
  await database?.drop();
});

const raise = async (url: string, title: string) => {
  const res = await http(url, 'POST', '/api/v1/alerts', { headers: bearer(token), json: { title, severity: 'critical', team_id: teamId } });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string };
};
const about = (id: string) => (m: StreamMessage) => (m.payload.data as { id: string }).id === id;

describe('two server processes', () => {
  it('a stream on A receives an event caused on B, and one caused on A itself, through Redis', async (context) => {
    if (!a || !b) return context.skip();
    const stream = await openStream(a.url, '/api/v1/events?channels=alerts', bearer(token));
    try {
      expect(stream.status).toBe(200);
      await stream.waitFor(() => stream.retries.length > 0, 5000, 'retry:');

      const onB = await raise(b.url, 'Raised on B');
      const fromB = await stream.waitForEvent(about(onB.id), 10_000);
      expect(fromB.payload).toMatchObject({ event: 'alert.triggered', team_id: teamId, data: { title: 'Raised on B' } });
      expect(streamEventProblems(fromB.payload)).toBe('');

      // A records the event in the shared outbox; only B dispatches it, and Redis brings it back to A.
      const onA = await raise(a.url, 'Raised on A');
      const fromA = await stream.waitForEvent(about(onA.id), 10_000);
      expect(BigInt(fromA.id)).toBeGreaterThan(BigInt(fromB.id));
    } finally {
      stream.close();
    }
  }, 30_000);

  it('a stream resumed on A gets what was missed on B from the shared outbox, then live events', async (context) => {
    if (!a || !b) return context.skip();
    const first = await openStream(a.url, '/api/v1/events?channels=alerts', bearer(token));
    const before = await raise(b.url, 'Before the drop');
    const seen = await first.waitForEvent(about(before.id), 10_000);
    first.close();
    const missed = await raise(b.url, 'While away');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const resumed = await openStream(a.url, '/api/v1/events?channels=alerts', { ...bearer(token), 'last-event-id': seen.id });
    try {
      await resumed.waitForEvent(about(missed.id), 10_000);
      const live = await raise(b.url, 'Live again');
      await resumed.waitForEvent(about(live.id), 10_000);
      expect(resumed.messages.map((m) => (m.payload.data as { id: string }).id)).toEqual([missed.id, live.id]);
    } finally {
      resumed.close();
    }
  }, 30_000);

  it('a WebSocket on A receives an event caused on B, through Redis, with the SSE stream’s position', async (context) => {
    if (!a || !b) return context.skip();
    const socket = await TestSocket.open(a.url, token);
    const stream = await openStream(a.url, '/api/v1/events?channels=alerts', bearer(token));
    try {
      socket.send({ type: 'subscribe', channels: ['alerts'] });
      await socket.next('subscribed');
      const onB = await raise(b.url, 'Raised on B for the socket');
      const message = await socket.eventAbout(onB.id, 'alert.triggered', 10_000);
      expect(message.data).toMatchObject({ event: 'alert.triggered', team_id: teamId, data: { title: 'Raised on B for the socket' } });
      expect(message.id).toBe((await stream.waitForEvent(about(onB.id), 10_000)).id);
    } finally {
      socket.close();
      stream.close();
    }
  }, 30_000);

  it('A stops promptly on SIGTERM with a stream open, and the stream ends', async (context) => {
    if (!a || !b) return context.skip();
    const stream = await openStream(a.url, '/api/v1/events', bearer(token));
    await stream.waitFor(() => stream.retries.length > 0, 5000, 'retry:');
    const started = Date.now();
    a.process.kill('SIGTERM');
    const { code } = await a.exited;
    await stream.closed;
    expect(code).toBe(0);
    // The default grace period is 10 s: the open stream did not hold the stop up.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(stream.ended).toBe(true);
  }, 30_000);
});
