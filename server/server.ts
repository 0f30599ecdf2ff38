// Starts Opsdeck from a config: database (PostgreSQL or embedded PGlite), migrations, optional Redis,
// the HTTP server, and a graceful stop. main.ts runs it; tests and benchmarks start it in-process.
import type { Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { callerDirectory, createApp } from './app.ts';
import { OpenStreams } from './http/event-stream.ts';
import { upgradeThrough } from './http/websocket.ts';
import { parserRefusal } from './http/pipeline.ts';
import { ConfigError, type Config } from './config.ts';
import { eventStreamPolicy } from './events/stream.ts';
import { ChangeFeedFollower, changeFeed } from './db/change-feed.ts';
import { openDatabase, type DatabaseHandle } from './db/database.ts';
import { migrateToLatest } from './db/migrator.ts';
import { HealthMonitor } from './health.ts';
import type { Logger } from './logger.ts';
import { closeRedis, openRedis, type RedisClient } from './redis/client.ts';
import { SignsOfLife } from './modules/agent-protocol/agent-protocol.sign-of-life.ts';
import { bootstrapIdentity } from './auth/bootstrap.ts';
import { resetAuthPolicy } from './modules/auth/auth.totp.ts';
import { LoginThrottle } from './auth/login-throttle.ts';
import { TokenService } from './auth/tokens.ts';
import { createEdge } from './edge/edge.ts';
import { localEventBus, redisEventBus } from './events/event-bus.ts';
import { clusterEventBus } from './events/cluster-event-bus.ts';
import { isCluster } from './redis/cluster.ts';
import { retentionOf, startWorkers } from './workers.ts';
import { Metrics } from './observability/metrics.ts';
import { operationTable } from './http/operation-table.ts';
import { openSecretBox } from './auth/secret-box.ts';
import { openCertificateAuthority } from './modules/certificates/certificates.authority.ts';
import { ChannelSender } from './modules/notifications/notifications.sender.ts';
import { WebhookDeliverer } from './modules/webhooks/webhooks.deliverer.ts';
import { deliveryPolicy } from './modules/webhooks/webhooks.policy.ts';
import { AlertRuleNudger } from './modules/alert-rules/alert-rules.nudger.ts';
import { http } from './http/node-http.ts';

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  /** The TLS listener (TLS_CERT, TLS_KEY, TLS_PORT), `https://host:port`; undefined without one. */
  readonly tlsUrl: string | undefined;
  readonly tlsServer: TlsServer | undefined;
  readonly database: DatabaseHandle;
  readonly redis: RedisClient | undefined;
  /** Readiness fails first, in-flight requests finish (up to the grace period), then pools close. */
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  // The configuration that can only be checked against the spec or against other variables, checked before
  // anything starts: a bad value stops the start as one line naming it (main.ts), and nothing else is printed.
  if (config.requireExternalBackends && (!config.databaseUrl || !config.redisUrl)) {
    throw new ConfigError('OPSDECK_REQUIRE_EXTERNAL_BACKENDS', 'OPSDECK_REQUIRE_EXTERNAL_BACKENDS is set but DATABASE_URL or REDIS_URL is not');
  }
  const delivery = deliveryPolicy(config.webhookDeliveryOverrides);
  const eventStream = eventStreamPolicy(config.eventStreamOverrides);
  if (!config.databaseUrl) {
    log.info({ dir: config.pgliteDir }, 'DATABASE_URL is not set: using the embedded PostgreSQL (PGlite)');
  }
  if (!config.redisUrl) log.info('REDIS_URL is not set: running without Redis (single process)');

  const database = await openDatabase({
    url: config.databaseUrl,
    pgliteDir: config.pgliteDir,
    poolMax: config.dbPoolMax,
    timeoutMs: config.dbTimeoutMs,
    transactionPooling: config.dbTransactionPooling,
    log,
  });
  await migrateToLatest(database.db, log);
  await bootstrapIdentity(database.db, config, log);
  if (config.authPolicyReset) await resetAuthPolicy(database.db, log);
  if (!config.jwtSecret) log.warn('JWT_SECRET is not set: access tokens are signed with a random key and end with this process');
  const redis = config.redisUrl ? await openRedis(config.redisUrl, log, Math.min(config.dbTimeoutMs, 1000)) : undefined;
  const health = new HealthMonitor(database, redis, Math.min(config.dbTimeoutMs, 1000));
  const tokens = new TokenService(config.jwtSecret, config.accessTokenTtlSeconds, config.refreshTokenTtlSeconds);
  const loginThrottle = new LoginThrottle(redis, config.redisKeyPrefix, log);
  const secretBox = await openSecretBox(database.db, config.secretsKey, log);
  const authority = await openCertificateAuthority(database.db, secretBox, log);
  const edge = createEdge(config, redis, log, secretBox);
  const bus = !redis ? localEventBus(log) : isCluster(redis) ? clusterEventBus(redis, config.redisKeyPrefix, log) : redisEventBus(redis, config.redisKeyPrefix, log);
  await bus.ready();
  // This app's metrics, on a registry of its own (GET /metrics).
  const metrics = new Metrics(operationTable.values());
  const webhookDeliverer = new WebhookDeliverer(database.db, secretBox, log, {
    onAttempt: (outcome) => metrics.webhookAttempt(outcome),
    policy: delivery,
    allowPrivateTargets: config.webhookAllowPrivateTargets,
    channels: new ChannelSender(secretBox, {
      allowPrivateTargets: config.webhookAllowPrivateTargets,
      smtpUrl: config.smtpUrl,
      smtpFrom: config.smtpFrom,
      timeoutMs: Math.round(delivery.timeout_seconds * 1000),
      excerptBytes: delivery.response_excerpt_bytes,
    }),
  });
  const streams = new OpenStreams();
  metrics.observe({ database, redis, streams, timeoutMs: Math.min(config.dbTimeoutMs, 1000), log });
  // The feed is read on a connection of its own, so that under load it is not queued behind requests (the
  // caches are trusted only while the feed is read in time).
  const feed = new ChangeFeedFollower(changeFeed(database.side, database.db), log);
  await feed.start();
  const callers = callerDirectory(database.db, feed);
  const signs = new SignsOfLife(database.db, edge.cache, feed, log);
  const alertNudger = new AlertRuleNudger(database.db, log);
  const app = createApp({ config, log, database, redis, health, startedAt: new Date(), tokens, feed, callers, loginThrottle, eventStream, edge, bus, secretBox, webhookDeliverer, streams, metrics, signs, alertNudger, authority });

  const server = http.createServer(app);
  server.on('clientError', parserRefusal(log));
  server.on('upgrade', upgradeThrough(app));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  // The TLS listener, the same app: agents may present a certificate of the Opsdeck CA (mutual TLS). The handshake
  // asks for one but lets a connection without one (or with a bad one) through, so that keys and tokens work there
  // too; the pipeline authenticates a verified certificate as its agent and refuses a bad one (401).
  let tlsServer: TlsServer | undefined;
  if (config.tls) {
    tlsServer = createTlsServer({ cert: config.tls.cert, key: config.tls.key, ca: [authority.pem], requestCert: true, rejectUnauthorized: false }, app);
    tlsServer.on('clientError', parserRefusal(log));
    tlsServer.on('upgrade', upgradeThrough(app));
    tlsServer.keepAliveTimeout = 5_000;
    const listening = tlsServer;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(config.tls!.port, config.host, () => resolve());
    }).catch(async (err: unknown) => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw err;
    });
  }
  // The background workers start once the server listens: their first runs (a sweep, a dispatch, on the embedded
  // database's one connection) do not hold up readiness, and a server that cannot listen starts none.
  const workers = config.backgroundWorkers
    ? startWorkers({ db: database.db, bus, cache: edge.cache, deliverer: webhookDeliverer, log, alertNudger, onRun: (worker, ok) => metrics.workerRun(worker, ok) }, config, retentionOf(delivery.retention_days))
    : undefined;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  const tlsUrl = tlsServer ? `https://${host}:${(tlsServer.address() as AddressInfo).port}` : undefined;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      health.markShuttingDown();
      // Attempts in flight are recorded (each ends by its timeout) before the database closes.
      await workers?.stop();
      log.info({ delay_ms: config.shutdownDelayMs }, 'shutting down: readiness fails, in-flight requests finish');
      if (config.shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
      // Live event streams and WebSockets never finish by themselves: they end now (their clients resume elsewhere
      // with Last-Event-ID; a WebSocket closes with 1001), so their connections are idle when the listener closes instead of holding up the stop.
      await streams.closeAll();
      const closed = Promise.all([server, ...(tlsServer ? [tlsServer] : [])].map((listener) => new Promise<void>((resolve) => listener.close(() => resolve()))));
      server.closeIdleConnections();
      tlsServer?.closeIdleConnections();
      const graceEnds = Date.now() + config.shutdownGraceMs;
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
      await Promise.race([closed, grace]);
      server.closeAllConnections();
      tlsServer?.closeAllConnections();
      // Signs of life answered before their batch was written (agent-protocol.sign-of-life.ts) are written now.
      // They share the grace period (with a second at least, which a healthy database needs far less of).
      await signs.drain(Math.max(graceEnds, Date.now() + 1000));
      await alertNudger.drain();
      await bus.close();
      await feed.stop();
      await database.close();
      if (redis) await closeRedis(redis);
      log.info('stopped');
    })());

  return { url, server, tlsUrl, tlsServer, database, redis, stop };
}
