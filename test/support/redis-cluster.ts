// A real Redis Cluster for tests: three masters (no replicas) from `redis-server` on free loopback ports, in a
// temporary directory, without persistence. The slots are split in three with CLUSTER ADDSLOTSRANGE and the
// nodes introduced with CLUSTER MEET (what `redis-cli --cluster create` does, without its fixed waits); it is
// ready once every node says cluster_state:ok and knows all three masters.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:<port>,…`: what REDIS_URL takes. */
  readonly url: string;
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

const MASTERS = 3;
const SLOTS = 16384;

/** Distinct free loopback ports (each node takes two: clients, and the cluster bus). */
async function freePorts(count: number): Promise<number[]> {
  const probes = await Promise.all(
    Array.from({ length: count }, async () => {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      return probe;
    }),
  );
  const ports = probes.map((probe) => (probe.address() as AddressInfo).port);
  await Promise.all(probes.map((probe) => new Promise<void>((resolve) => probe.close(() => resolve()))));
  return ports;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Redis Cluster: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'opsdeck-redis-cluster-'));
  const ports = await freePorts(MASTERS * 2);
  const nodes = Array.from({ length: MASTERS }, (_, i) => ({ port: ports[i]!, busPort: ports[MASTERS + i]! }));
  const children: ChildProcess[] = [];
  const admins: Redis[] = [];
  let output = '';
  const stop = async () => {
    for (const admin of admins) admin.disconnect();
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const { port, busPort } of nodes) {
      const child = spawn(
        'redis-server',
        [
          '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '15000',
          '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      children.push(child);
      const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
      admin.on('error', () => undefined);
      admins.push(admin);
    }
    await Promise.all(admins.map((admin, i) => until(async () => {
      if (children[i]!.exitCode !== null) throw new Error(`redis-server exited: ${output.trim()}`);
      if (admin.status === 'wait') await admin.connect();
      return (await admin.ping()) === 'PONG';
    }, `node ${nodes[i]!.port} to answer`)));
    // Slots in three ranges, one per master, then every node meets the first.
    await Promise.all(admins.map((admin, i) => {
      const first = Math.floor((SLOTS * i) / MASTERS);
      const last = Math.floor((SLOTS * (i + 1)) / MASTERS) - 1;
      return admin.call('CLUSTER', 'ADDSLOTSRANGE', String(first), String(last));
    }));
    for (const admin of admins.slice(1)) await admin.call('CLUSTER', 'MEET', '127.0.0.1', String(nodes[0]!.port), String(nodes[0]!.busPort));
    await Promise.all(admins.map((admin) => until(async () => {
      const info = String(await admin.call('CLUSTER', 'INFO'));
      return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${MASTERS}`) && info.includes(`cluster_slots_ok:${SLOTS}`);
    }, 'cluster_state:ok on every node')));
  } catch (err) {
    await stop();
    throw err;
  }
  for (const admin of admins) admin.disconnect();
  admins.length = 0;
  return { url: `redis+cluster://${nodes.map(({ port }) => `127.0.0.1:${port}`).join(',')}`, ports: nodes.map(({ port }) => port), stop };
}
