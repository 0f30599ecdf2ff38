// The event bus on a real Redis: two processes' buses with one key prefix hear each other (and no other
// prefix), and a bus whose subscription was cut tells its listeners once it is back, so live streams end
// and their clients resume with Last-Event-ID.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisEventBus, type EventBus, type PublishedEvent } from '../../server/events/event-bus.ts';
import type { StreamEvent } from '../../server/events/catalogue.ts';
import { createLogger } from '../../server/logger.ts';
import { testRedis } from '../support/backends.ts';

const log = createLogger('silent');
const name = `opsdeck-bus-test-${randomBytes(4).toString('hex')}`;
let url: string | undefined;
const connections: Redis[] = [];
const buses: EventBus[] = [];

beforeAll(async () => {
  url = await testRedis();
});
afterAll(async () => {
  for (const bus of buses) await bus.close();
  for (const redis of connections) redis.disconnect();
});

async function bus(prefix: string): Promise<EventBus> {
  const redis = new Redis(url!, { connectionName: name, maxRetriesPerRequest: 1 });
  connections.push(redis);
  const made = redisEventBus(redis, prefix, log);
  buses.push(made);
  await made.ready();
  return made;
}

const event = (seq: number): PublishedEvent => ({
  seq: String(seq),
  channel: 'alerts',
  event: { id: `0192f3c2-0000-7000-8000-${String(seq).padStart(12, '0')}`, event: 'alert.triggered', timestamp: '2026-11-21T10:30:00.000Z', team_id: '0192f0a0-0000-7000-8000-00000000000a', data: {} } as unknown as StreamEvent,
});

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('the Redis event bus', () => {
  it('carries events between buses of one prefix, in order, and not to another prefix', async (context) => {
    if (!url) return context.skip();
    const prefix = `${name}:a:`;
    const [a, b, other] = [await bus(prefix), await bus(prefix), await bus(`${name}:other:`)];
    const heard: string[] = [];
    const strangers: string[] = [];
    b.subscribe((e) => void heard.push(e.seq));
    other.subscribe((e) => void strangers.push(e.seq));
    await a.publish([event(1), event(2)]);
    await a.publish([event(3)]);
    await until(() => heard.length === 3, 'three events');
    expect(heard).toEqual(['1', '2', '3']);
    expect(strangers).toEqual([]);
  });

  it('tells its listeners when its subscription was cut and is back, and hears events again', async (context) => {
    if (!url) return context.skip();
    const prefix = `${name}:b:`;
    const [publisher, subscriber] = [await bus(prefix), await bus(prefix)];
    let interruptions = 0;
    const stop = subscriber.onInterrupted(() => void (interruptions += 1));
    const heard: string[] = [];
    subscriber.subscribe((e) => void heard.push(e.seq));

    // Cut the subscriber's own connection (only this test's: named, in subscriber mode, subscribed to its channel).
    const admin = new Redis(url!);
    connections.push(admin);
    const clients = ((await admin.client('LIST')) as string).split('\n').filter((line) => line.includes(`name=${name}`) && / sub=1 /.test(line));
    const ids = clients.map((line) => /\bid=(\d+)/.exec(line)![1]!);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) await admin.client('KILL', 'ID', id);

    await until(() => interruptions > 0, 'the interruption to be told');
    // Back and subscribed again: a new event arrives.
    await until(() => {
      // Published again until one is heard; one still under way when the file ends and closes the connection is moot.
      publisher.publish([event(heard.length + 10)]).catch(() => {});
      return heard.length > 0;
    }, 'an event after the reconnect');
    stop();
  });
});
