// The event bus on a Redis Cluster, with sharded pub/sub (Redis 7): SPUBLISH goes to the shard that owns the
// channel's hash slot and reaches the clients subscribed there (SSUBSCRIBE), instead of being broadcast over the
// cluster bus to every node as PUBLISH is; the cost of an event no longer grows with the size of the cluster. One
// channel per deployment (`<prefix>events`), as on a single Redis: every process wants every event, so splitting
// it over shards would only make each process subscribe to all of them.
//
// The subscription is one connection of its own to the master that owns the channel's slot, found with CLUSTER
// SLOTS. When it ends (the node failed, the connection broke) or Redis withdraws it (the slot moved to another
// shard: an unsolicited SUNSUBSCRIBE), the owner is looked up again and the bus subscribes there; once it has,
// what was published meanwhile never reached this process, so the bus tells its `onInterrupted` listeners, as the
// single-server bus does after a reconnect, and live streams end and resume from the outbox with Last-Event-ID.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { closeRedis } from '../redis/client.ts';
import { Listeners, subscribedWithin, type EventBus, type PublishedEvent } from './event-bus.ts';

const RETRY_MS = [100, 200, 500, 1000, 2000];

export function clusterEventBus(cluster: Cluster, keyPrefix: string, log: Logger): EventBus {
  const channel = `${keyPrefix}events`;
  const listeners = new Listeners();
  const interruptions = new Set<() => void>();
  let subscriber: Redis | undefined;
  let closed = false;
  let subscribedOnce: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => (subscribedOnce = resolve));

  /** The master that owns the channel's slot now. */
  async function owner(): Promise<{ host: string; port: number }> {
    const slot = Number(await cluster.cluster('KEYSLOT', channel));
    // CLUSTER SLOTS: [first slot, last slot, [master host, port, id, …], …replicas].
    const ranges = await cluster.cluster('SLOTS');
    const master = ranges.find(([first, last]) => first <= slot && slot <= last)?.[2];
    if (!master) throw new Error(`no node of the cluster serves hash slot ${slot}`);
    return { host: master[0], port: Number(master[1]) };
  }

  /** Subscribes on the owner; resolves, once subscribed, with the promise of that subscription's loss. */
  async function follow(): Promise<{ lost: Promise<void> }> {
    const { host, port } = await owner();
    const { Redis: RedisConnection } = await import('ioredis');
    const node = cluster.options.redisOptions ?? {};
    const connection = new RedisConnection({
      host,
      port,
      username: node.username,
      password: node.password,
      tls: node.tls,
      connectTimeout: node.connectTimeout,
      lazyConnect: true,
      // The bus reconnects by itself, to whichever node owns the slot by then.
      retryStrategy: () => null,
      maxRetriesPerRequest: null,
    });
    connection.on('error', () => {}); // the cluster's own connections report the cluster being away
    connection.on('smessage', (from: string, message: string) => {
      if (from !== channel) return;
      try {
        listeners.emit(JSON.parse(message) as PublishedEvent[], log);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'event bus: an unreadable message was dropped');
      }
    });
    const lost = new Promise<void>((resolve) => {
      connection.once('end', resolve);
      // An unsolicited SUNSUBSCRIBE: the slot moved to another shard.
      connection.once('moved', resolve);
    });
    try {
      await connection.connect();
      await connection.ssubscribe(channel);
    } catch (err) {
      connection.disconnect();
      throw err;
    }
    subscriber = connection;
    // In an object: an async function returning the promise itself would wait for it.
    return {
      lost: lost.finally(() => {
        subscriber = undefined;
        connection.disconnect();
      }),
    };
  }

  void (async () => {
    let interrupted = false;
    let failures = 0;
    while (!closed) {
      try {
        const { lost } = await follow();
        if (closed) {
          subscriber?.disconnect();
          break;
        }
        failures = 0;
        subscribedOnce();
        if (interrupted) {
          log.warn({ listeners: interruptions.size }, 'event bus: the Redis subscription was interrupted; live streams end and resume');
          for (const listener of interruptions) listener();
        }
        await lost;
        interrupted = true;
      } catch (err) {
        if (failures === 0) log.warn({ err: (err as Error).message }, 'event bus: subscribing on the Redis Cluster failed; retrying');
        failures += 1;
      }
      if (!closed) await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]));
    }
  })();

  return {
    async publish(events: readonly PublishedEvent[]) {
      if (events.length > 0) await cluster.spublish(channel, JSON.stringify(events));
    },
    subscribe: (listener) => listeners.add(listener),
    onInterrupted(listener) {
      interruptions.add(listener);
      return () => interruptions.delete(listener);
    },
    ready: () => subscribedWithin(subscribed),
    async close() {
      closed = true;
      if (subscriber) await closeRedis(subscriber);
    },
  };
}
