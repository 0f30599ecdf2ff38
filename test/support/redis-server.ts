// A private redis-server for tests that pause or stop Redis (CLIENT PAUSE, SIGSTOP), so the machine's
// shared Redis is never touched. Started on a free loopback port, without persistence.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';

export interface PrivateRedis {
  readonly url: string;
  readonly process: ChildProcess;
  /** A connection of the test's own (not the server's), e.g. to send CLIENT PAUSE. */
  readonly admin: Redis;
  stop(): Promise<void>;
}

/** A loopback port nothing listens on now (for a server a test starts). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Whether `redis-server` can be run here. */
export async function redisServerAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  for (let attempt = 0; ; attempt += 1) {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const url = `redis://127.0.0.1:${port}`;
    const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    admin.on('error', () => undefined);
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        if (admin.status === 'wait') await admin.connect();
        if ((await admin.ping()) === 'PONG') {
          ready = true;
          break;
        }
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    if (ready) {
      return {
        url,
        process: child,
        admin,
        async stop() {
          admin.disconnect();
          if (child.exitCode === null) {
            child.kill('SIGKILL');
            await exited;
          }
        },
      };
    }
    admin.disconnect();
    child.kill('SIGKILL');
    await exited;
    // Another process took the port between the probe and redis-server's start: try another one.
    if (attempt >= 2) throw new Error(`redis-server did not start: ${output.trim()}`);
  }
}
