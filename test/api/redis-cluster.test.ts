// The edge and events tests again, on a real three-master Redis Cluster (test/support/redis-cluster.ts) instead
// of the single Redis: REDIS_URL is `redis+cluster://…`, so every Lua script, MULTI and MGET must keep to one hash
// slot, and live events travel by sharded pub/sub. The suites are imported after TEST_REDIS_URL names the
// cluster, so their servers (in this process and the child processes they start) connect to it. Tests that cut
// a single Redis with a TCP proxy skip themselves on a cluster. Then the cluster's own event bus: what one
// process publishes reaches another, and a subscription that was cut is made again and reported.
import { randomBytes } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterEventBus } from '../../server/events/cluster-event-bus.ts';
import type { EventBus } from '../../server/events/event-bus.ts';
import { createLogger } from '../../server/logger.ts';
import { connectCluster } from '../../server/redis/cluster.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import { redisServerAvailable } from '../support/redis-server.ts';

const required = ['1', 'true', 'yes'].includes((process.env.OPSDECK_REQUIRE_EXTERNAL_BACKENDS ?? '').toLowerCase());
const available = await redisServerAvailable();
if (!available && required) throw new Error('redis-server is needed for the Redis Cluster tests (OPSDECK_REQUIRE_EXTERNAL_BACKENDS is set)');
const cluster = available ? await startRedisCluster() : undefined;

if (!cluster) {
  describe('on a Redis Cluster', () => it.skip('needs redis-server on PATH'));
} else {
  const previous = process.env.TEST_REDIS_URL;
  process.env.TEST_REDIS_URL = cluster.url;
  // Registered first, so it runs after every suite's own afterAll (hooks after tests run in reverse order).
  afterAll(async () => {
    if (previous === undefined) delete process.env.TEST_REDIS_URL;
    else process.env.TEST_REDIS_URL = previous;
    await cluster.stop();
  });

  describe('the event bus on a Redis Cluster', () => {
    const log = createLogger('silent');
    const prefix = `opsdeck-bus-test-${randomBytes(4).toString('hex')}:`;
    const clients: Cluster[] = [];
    const buses: EventBus[] = [];
    afterAll(async () => {
      for (const bus of buses) await bus.close();
      for (const client of clients) client.disconnect();
    });

    const bus = async () => {
      const client = await connectCluster(cluster.url, 1000);
      clients.push(client);
      await new Promise((resolve) => client.once('ready', resolve));
      const made = clusterEventBus(client, prefix, log);
      buses.push(made);
      await made.ready();
      return made;
    };
    const event = (seq: number) => ({ seq: String(seq), channel: 'alerts' as const, event: { id: `e${seq}` } as never });

    it('carries events between processes by sharded pub/sub, and subscribes again after a cut', async () => {
      const [a, b] = [await bus(), await bus()];
      const heard: string[] = [];
      let interruptions = 0;
      b.subscribe((e) => void heard.push(e.seq));
      b.onInterrupted(() => (interruptions += 1));
      await a.publish([event(1), event(2)]);
      await expect.poll(() => heard, { timeout: 5000 }).toEqual(['1', '2']);

      // The subscriptions are sharded: they are on the master that owns the channel's slot, and only there.
      const subscribers = await Promise.all(
        cluster.ports.map(async (port) => {
          const node = new Redis({ host: '127.0.0.1', port });
          try {
            return Number(((await node.call('PUBSUB', 'SHARDNUMSUB', `${prefix}events`)) as [string, number])[1]);
          } finally {
            node.disconnect();
          }
        }),
      );
      expect(subscribers.filter((count) => count > 0)).toEqual([2]);

      // Cut b's subscription (and a's: CLIENT KILL by type): they subscribe again and say they were interrupted.
      const port = cluster.ports[subscribers.findIndex((count) => count > 0)]!;
      const admin = new Redis({ host: '127.0.0.1', port });
      try {
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      } finally {
        admin.disconnect();
      }
      await expect.poll(() => interruptions, { timeout: 5000 }).toBe(1);
      await a.publish([event(3)]);
      await expect.poll(() => heard, { timeout: 5000 }).toEqual(['1', '2', '3']);
    });
  });

  await import('./edge-cache.test.ts');
  await import('./edge-conditional.test.ts');
  await import('./edge-idempotency.test.ts');
  await import('./edge-rate-limit.test.ts');
  await import('./events-outbox.test.ts');
  await import('./events-stream.test.ts');
  await import('./events-two-process.test.ts');
}
