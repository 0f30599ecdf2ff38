// The background work of a process, when BACKGROUND_WORKERS is on: the sweeper (silent agents go offline),
// the outbox dispatcher (events to the stream and to webhook deliveries) and the webhook deliverer. Every
// process of a deployment may run them at once: the sweep is idempotent, the dispatcher takes turns under
// an advisory lock, and deliveries are claimed with SKIP LOCKED.
import type { Kysely } from 'kysely';
import type { Config } from './config.ts';
import type { Database } from './db/schema.ts';
import type { TaggedCache } from './edge/tagged-cache.ts';
import { OutboxDispatcher } from './events/dispatcher.ts';
import type { EventBus } from './events/event-bus.ts';
import type { Logger } from './logger.ts';
import { AgentProtocolService } from './modules/agent-protocol/agent-protocol.service.ts';
import type { WebhookDeliverer } from './modules/webhooks/webhooks.deliverer.ts';

export interface Workers {
  /** Stops them; attempts in flight are recorded first. */
  stop(): Promise<void>;
}

export function startWorkers(
  deps: { db: Kysely<Database>; bus: EventBus; cache: TaggedCache; deliverer: WebhookDeliverer; log: Logger },
  config: Pick<Config, 'outboxPollMs' | 'heartbeatTimeoutSeconds' | 'sweepIntervalMs'>,
  retentionDays: number,
): Workers {
  const { db, bus, cache, deliverer, log } = deps;
  const dispatcher = new OutboxDispatcher(db, bus, log, { pollMs: config.outboxPollMs, retentionDays, onDeliveriesQueued: () => deliverer.wake() });
  dispatcher.start();
  deliverer.start();

  const protocol = new AgentProtocolService(db, cache);
  const sweeper = setInterval(() => {
    protocol.sweep(config.heartbeatTimeoutSeconds).then(
      (swept) => {
        if (swept.offline > 0 || swept.failed > 0) log.info(swept, 'sweeper: silent agents marked offline, their running tasks failed');
      },
      (err: unknown) => log.warn({ err: (err as Error).message }, 'sweeper failed; it tries again'),
    );
  }, config.sweepIntervalMs);
  sweeper.unref();

  return {
    async stop() {
      clearInterval(sweeper);
      await dispatcher.stop();
      await deliverer.stop();
    },
  };
}
