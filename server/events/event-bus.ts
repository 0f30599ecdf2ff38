// Fan-out of dispatched events to every server process: through Redis pub/sub when Redis is configured,
// else within this process only (the embedded, single-process default). A subscriber that misses events
// while Redis is away gets them back by resuming its stream with Last-Event-ID.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { closeRedis } from '../redis/client.ts';
import type { EventChannel, StreamEvent } from './catalogue.ts';

/** A streamed event at its stream position. */
export interface PublishedEvent {
  seq: string;
  channel: EventChannel;
  event: StreamEvent;
}

export type EventListener = (event: PublishedEvent) => void;

export interface EventBus {
  /** Publishes events in stream order. */
  publish(events: readonly PublishedEvent[]): Promise<void>;
  /** Calls the listener for every event published by any process; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void;
  /**
   * Calls the listener when this process may have missed published events: its Redis subscription was
   * interrupted and is back. Live streams then end, so their clients resume with Last-Event-ID and get
   * what was missed from the outbox. Returns the function that stops the calls.
   */
  onInterrupted(listener: () => void): () => void;
  /** Resolves once this process receives what others publish (or subscribing has failed and been logged). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export class Listeners {
  readonly #listeners = new Set<EventListener>();

  add(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(events: readonly PublishedEvent[], log: Logger): void {
    for (const event of events) {
      for (const listener of this.#listeners) {
        try {
          listener(event);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'event bus: a listener failed');
        }
      }
    }
  }
}

/**
 * A bus's `ready`: its subscription, waited for at most 2 s. A Redis (or Redis Cluster) that is away must not hold
 * up start-up; the subscription completes when it is back.
 */
export async function subscribedWithin(subscribed: Promise<void>, ms = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([subscribed, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export function localEventBus(log: Logger): EventBus {
  const listeners = new Listeners();
  return {
    publish: async (events) => listeners.emit(events, log),
    subscribe: (listener) => listeners.add(listener),
    onInterrupted: () => () => {},
    ready: async () => {},
    close: async () => {},
  };
}

export function redisEventBus(redis: Redis, keyPrefix: string, log: Logger): EventBus {
  const channel = `${keyPrefix}events`;
  const listeners = new Listeners();
  // A connection in subscriber mode serves nothing else; it queues its SUBSCRIBE until it is connected and
  // subscribes again by itself after a reconnect.
  const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
  subscriber.on('error', () => {}); // the main connection already reports Redis being away
  const interruptions = new Set<() => void>();
  let connectedBefore = false;
  subscriber.on('ready', () => {
    // Ready again after a lost connection: what was published meanwhile never reached this process.
    if (connectedBefore) {
      log.warn({ listeners: interruptions.size }, 'event bus: the Redis subscription was interrupted; live streams end and resume');
      for (const listener of interruptions) listener();
    }
    connectedBefore = true;
  });
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    try {
      listeners.emit(JSON.parse(message) as PublishedEvent[], log);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'event bus: an unreadable message was dropped');
    }
  });
  const subscribed = subscriber.subscribe(channel).then(
    () => {},
    (err: unknown) => log.warn({ err: (err as Error).message }, 'event bus: subscribing failed'),
  );
  return {
    async publish(events) {
      if (events.length > 0) await redis.publish(channel, JSON.stringify(events));
    },
    subscribe: (listener) => listeners.add(listener),
    onInterrupted(listener) {
      interruptions.add(listener);
      return () => interruptions.delete(listener);
    },
    ready: () => subscribedWithin(subscribed),
    async close() {
      await closeRedis(subscriber);
    },
  };
}
