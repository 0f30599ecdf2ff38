// What the application is made of, built by server.ts and handed to createApp (app.ts) and the handler map
// (handlers.ts). A module of its own so that those two do not import each other.
import type { RedisClient } from './redis/client.ts';
import type { CachedCallerDirectory } from './auth/caller-cache.ts';
import type { LoginThrottle } from './auth/login-throttle.ts';
import type { SecretBox } from './auth/secret-box.ts';
import type { TokenService } from './auth/tokens.ts';
import type { Config } from './config.ts';
import type { ChangeFeedFollower } from './db/change-feed.ts';
import type { DatabaseHandle } from './db/database.ts';
import type { Edge } from './edge/edge.ts';
import type { EventBus } from './events/event-bus.ts';
import type { EventStreamPolicy } from './events/stream.ts';
import type { HealthMonitor } from './health.ts';
import type { OpenStreams } from './http/event-stream.ts';
import type { Logger } from './logger.ts';
import type { SignsOfLife } from './modules/agent-protocol/agent-protocol.sign-of-life.ts';
import type { AlertRuleNudger } from './modules/alert-rules/alert-rules.nudger.ts';
import type { WebhookDeliverer } from './modules/webhooks/webhooks.deliverer.ts';
import type { Metrics } from './observability/metrics.ts';
import type { CertificateAuthority } from './modules/certificates/certificates.authority.ts';

export interface AppDeps {
  config: Config;
  log: Logger;
  database: DatabaseHandle;
  redis: RedisClient | undefined;
  health: HealthMonitor;
  startedAt: Date;
  tokens: TokenService;
  /** The change feed this process follows; the caches below (and the agents' cache) listen to it. */
  feed: ChangeFeedFollower;
  /** Who a credential belongs to (the per-process caller cache over the repositories, see app.ts). */
  callers: CachedCallerDirectory;
  loginThrottle: LoginThrottle;
  edge: Edge;
  /** Dispatched events, from every process (the live stream subscribes to it). */
  bus: EventBus;
  /** The live stream's policy: the spec's `x-event-stream` with EVENT_STREAM's overrides. */
  eventStream: EventStreamPolicy;
  /** The open `text/event-stream` answers, which a graceful stop ends. */
  streams: OpenStreams;
  /** Encrypts the stored secrets that must be read back (webhook signing secrets). */
  secretBox: SecretBox;
  /** Sends webhook deliveries; woken when a request queues one (ping, redelivery). */
  webhookDeliverer: Pick<WebhookDeliverer, 'wake'>;
  /** This app's Prometheus metrics (GET /metrics), on a registry of its own. */
  metrics: Metrics;
  /** Agents' signs of life, written in batches; a graceful stop drains them before the pool closes. */
  signs: SignsOfLife;
  /** Makes alert rules due soon when metric samples of theirs are committed (alert-rules.nudger.ts). */
  alertNudger: Pick<AlertRuleNudger, 'nudge'>;
  /** The certificate authority for agents (its key opened with the secret box). */
  authority: CertificateAuthority;
}
