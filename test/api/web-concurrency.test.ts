// WEB_CONCURRENCY=2, as `npm start` runs it (server/main.ts in a child process): a primary and two worker
// processes that share one port. Requests on new connections are answered by both workers; the background workers
// run in worker 1 only; a worker that dies is replaced; SIGTERM to the primary stops every process gracefully.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testRedis, type TestDatabase } from '../support/backends.ts';
import { startTwoWorkers, type ChildServer } from '../support/child-server.ts';
import { http } from '../support/http.ts';
import { TEST_ADMIN } from '../support/identity.ts';

interface LogLine {
  msg?: string;
  pid?: number;
  worker?: number;
  level?: string;
}

let database: TestDatabase;
let redisUrl: string | undefined;
let server: ChildServer | undefined;

const lines = (): LogLine[] =>
  server!
    .output()
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** A GET on a connection of its own (fetch would reuse one), answered with its status. */
const getOnNewConnection = (url: string) =>
  new Promise<number>((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
const listening = () => lines().filter((l) => l.msg?.startsWith('Opsdeck is listening on '));

beforeAll(async () => {
  database = await createTestDatabase();
  redisUrl = await testRedis();
  if (!database.url || !redisUrl) return;
  server = await startTwoWorkers(database.url, redisUrl, {
    transactionPooling: database.transactionPooling,
    keyPrefix: `opsdeck-test:${process.pid}:web-${randomBytes(3).toString('hex')}:`,
    admin: TEST_ADMIN,
  });
}, 60_000);

afterAll(async () => {
  if (server && server.process.exitCode === null) server.process.kill('SIGKILL');
  for (const line of listening()) if (line.pid && alive(line.pid)) process.kill(line.pid, 'SIGKILL');
  await database?.drop();
});

describe('WEB_CONCURRENCY=2', () => {
  it('serves from two worker processes on one port, with the background workers in worker 1 only', async (ctx) => {
    if (!server) return ctx.skip('needs PostgreSQL and Redis');
    const workers = listening();
    expect(new Set(workers.map((l) => l.pid)).size).toBe(2);
    expect(workers.map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(workers.every((l) => l.pid !== server!.process.pid)).toBe(true);

    // New connections are handed to the workers in turn: both answer.
    for (let i = 0; i < 12; i += 1) expect(await getOnNewConnection(`${server.url}/health/live`)).toBe(200);
    const answeredBy = new Set(lines().filter((l) => l.msg === 'request').map((l) => l.pid));
    expect(answeredBy.size).toBe(2);

    const started = lines().filter((l) => l.msg?.startsWith('background workers started'));
    expect(started.map((l) => l.worker)).toEqual([1]);
  });

  it('replaces a worker that dies, in the same slot', async (ctx) => {
    if (!server) return ctx.skip('needs PostgreSQL and Redis');
    const second = listening().find((l) => l.worker === 2)!;
    process.kill(second.pid!, 'SIGKILL');
    await expect.poll(() => listening().filter((l) => l.worker === 2).length, { timeout: 30_000 }).toBe(2);
    expect(lines().some((l) => l.msg === 'a worker died; it is restarted' && l.worker === 2)).toBe(true);
    expect(lines().filter((l) => l.msg?.startsWith('background workers started')).map((l) => l.worker)).toEqual([1]);
    expect((await http(server.url, 'GET', '/health/ready')).status).toBe(200);
  });

  it('stops every process gracefully on SIGTERM to the primary', async (ctx) => {
    if (!server) return ctx.skip('needs PostgreSQL and Redis');
    const pids = listening().map((l) => l.pid!);
    server.process.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(pids.filter(alive)).toEqual([]);
    const stopped = lines().filter((l) => l.msg === 'stopped');
    // Each live worker stopped gracefully, then the primary.
    expect(stopped.filter((l) => l.worker !== undefined).map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(stopped.at(-1)!.worker).toBeUndefined();
  });
});
