// Several server processes on one port (a cluster, as WEB_CONCURRENCY runs them): whichever worker a scrape
// reaches, /metrics answers the whole cluster's figures, relayed and merged by the primary
// (server/observability/cluster-metrics.ts): requests summed over the workers, one database's outbox taken once.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
let primary: ChildProcess;
let base: string;
let output = '';

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A GET on a connection of its own, so the cluster hands each to a worker in turn. */
function get(path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent: false, headers: { connection: 'close' } }, (res) => {
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
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  primary = spawn(process.execPath, ['--conditions=opsdeck-source', 'test/support/cluster-primary.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      FIXTURE_WORKERS: '2',
      PORT: String(port),
      HOST: '127.0.0.1',
      PGLITE_DIR: 'memory://',
      OPSDECK_DEMO_DATA: 'false',
      OPSDECK_ADMIN_EMAIL: 'admin@cluster.example.com',
      OPSDECK_ADMIN_PASSWORD: 'cluster-test-password-1',
      BACKGROUND_WORKERS: 'false',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  primary.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  primary.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while ((output.match(/Opsdeck is listening on/g) ?? []).length < 2) {
    if (Date.now() > deadline || primary.exitCode !== null) throw new Error(`the workers did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 90_000);

afterAll(async () => {
  if (!primary || primary.exitCode !== null) return;
  const exited = new Promise((resolve) => primary.once('exit', resolve));
  primary.kill('SIGTERM');
  await exited;
}, 30_000);

describe('metrics of a cluster', () => {
  it('answers the sum of every worker, whichever worker is scraped', async () => {
    const requests = 12;
    for (let i = 0; i < requests; i += 1) expect((await get('/api/v1/system/version')).status).toBe(200);
    for (let i = 0; i < 4; i += 1) {
      const scrape = await get('/metrics');
      expect(scrape.status).toBe(200);
      expect(sample(scrape.text, /^opsdeck_http_requests_total\{operation_id="getSystemVersion",method="GET",status_class="2xx"\} /), `scrape ${i}`).toBe(requests);
      // Both workers' figures are in: each has one embedded connection (summed); the backend is said once.
      expect(sample(scrape.text, /^opsdeck_db_pool_connections\{pool="main"\} /)).toBe(2);
      expect(sample(scrape.text, /^opsdeck_db_info\{backend="pglite"\} /)).toBe(1);
      expect(scrape.text).toMatch(/^# HELP opsdeck_http_request_duration_seconds /m);
      expect(sample(scrape.text, /^opsdeck_http_request_duration_seconds_count\{operation_id="getSystemVersion",method="GET",status_class="2xx"\} /)).toBe(requests);
    }
  });
});
