// Several server processes on one port (WEB_CONCURRENCY=2, server/main.ts as `npm start` runs it): whichever worker
// a scrape reaches, /metrics answers the whole cluster's figures, relayed and merged by the primary
// (server/observability/cluster-metrics.ts): requests summed over the workers, the one outbox and the backend
// taken once. Needs PostgreSQL and Redis, as WEB_CONCURRENCY does.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testRedis, type TestDatabase } from '../support/backends.ts';
import { startTwoWorkers, type ChildServer } from '../support/child-server.ts';
import { TEST_ADMIN } from '../support/identity.ts';

let database: TestDatabase | undefined;
let server: ChildServer | undefined;

/** A GET on a connection of its own, so the cluster hands each to a worker in turn. */
function get(path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server!.url}${path}`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

function sample(text: string, line: RegExp): number | undefined {
  const match = text.split('\n').find((l) => line.test(l));
  return match === undefined ? undefined : Number(match.split(' ').at(-1));
}

beforeAll(async () => {
  database = await createTestDatabase();
  const redisUrl = await testRedis();
  if (!database.url || !redisUrl) return;
  server = await startTwoWorkers(database.url, redisUrl, {
    transactionPooling: database.transactionPooling,
    keyPrefix: `opsdeck-test:${process.pid}:metrics-${randomBytes(3).toString('hex')}:`,
    admin: TEST_ADMIN,
  });
}, 60_000);

afterAll(async () => {
  if (server && server.process.exitCode === null) {
    server.process.kill('SIGTERM');
    await server.exited;
  }
  await database?.drop();
}, 30_000);

describe('metrics of WEB_CONCURRENCY=2', () => {
  it('answers the sum of every worker, whichever worker is scraped', async (ctx) => {
    if (!server) return ctx.skip('needs PostgreSQL and Redis');
    const requests = 12;
    for (let i = 0; i < requests; i += 1) expect((await get('/api/v1/system/version')).status).toBe(200);
    for (let i = 0; i < 4; i += 1) {
      const scrape = await get('/metrics');
      expect(scrape.status).toBe(200);
      expect(sample(scrape.text, /^opsdeck_http_requests_total\{operation_id="getSystemVersion",method="GET",status_class="2xx"\} /), `scrape ${i}`).toBe(requests);
      expect(sample(scrape.text, /^opsdeck_http_request_duration_seconds_count\{operation_id="getSystemVersion",method="GET",status_class="2xx"\} /)).toBe(requests);
      // Both workers' figures are in: their pools' capacities add up (DB_POOL_MAX, 10, each); the backend is said once.
      expect(sample(scrape.text, /^opsdeck_db_pool_max_connections\{pool="main"\} /)).toBe(20);
      expect(sample(scrape.text, /^opsdeck_db_info\{backend="postgresql"\} /)).toBe(1);
      expect(sample(scrape.text, /^opsdeck_redis_up /)).toBe(1);
      expect(Number.isFinite(sample(scrape.text, /^opsdeck_outbox_backlog_events /))).toBe(true);
      expect(scrape.text).toMatch(/^# HELP opsdeck_http_request_duration_seconds /m);
    }
  });
});
