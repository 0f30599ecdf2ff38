// Graceful stop: readiness fails first, in-flight requests finish, then the listener and pools close.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http } from '../support/http.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ SHUTDOWN_DELAY_MS: '700', SHUTDOWN_GRACE_MS: '5000' });
});
afterAll(async () => {
  await server?.close();
});

it('fails readiness, lets an in-flight request finish, then stops accepting', async (ctx) => {
  if (!server.testDatabase.url) ctx.skip('needs a real PostgreSQL to hold a lock from a second connection');
  const locker = new pg.Client({ connectionString: server.testDatabase.url });
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query('lock table agents in access exclusive mode');
    const inFlight = server.call('GET', '/api/v2/agents');
    await new Promise((resolve) => setTimeout(resolve, 150));

    const stopped = server.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ready = await http(server.url, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.data.checks).toContainEqual(expect.objectContaining({ name: 'shutdown', status: 'unavailable' }));

    await locker.query('commit');
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    await stopped;
    await expect(fetch(`${server.url}/health/live`)).rejects.toThrow();
  } finally {
    await locker.end();
  }
});
