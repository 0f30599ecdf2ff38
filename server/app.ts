// createApp: request id → access log → static contract and docs → body parser → audit recorder →
// guard (operation, authentication, permission) → validator → handlers bound by operationId → error envelope.
import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import typeis from 'type-is';
import { bundledSpecPath, bundledSpecYamlPath, docsPath } from './contract.ts';
import type { Config } from './config.ts';
import type { DatabaseHandle } from './db/database.ts';
import type { HealthMonitor } from './health.ts';
import { bindOperations } from './http/bind.ts';
import { errorMiddleware, undeclaredErrorMiddleware } from './http/error-middleware.ts';
import { requestContext } from './http/request-id.ts';
import { openApiValidator } from './http/validator.ts';
import { createHandlers } from './handlers.ts';
import type { Logger } from './logger.ts';
import { Authenticator } from './auth/authenticate.ts';
import type { LoginThrottle } from './auth/login-throttle.ts';
import type { TokenService } from './auth/tokens.ts';
import { guardOperations } from './http/guard.ts';
import type { Edge } from './edge/edge.ts';
import { auditRecorder } from './modules/audit/audit-recorder.ts';
import type { EventBus } from './events/event-bus.ts';
import type { OpenStreams } from './http/event-stream.ts';
import type { SecretBox } from './auth/secret-box.ts';
import type { WebhookDeliverer } from './modules/webhooks/webhooks.deliverer.ts';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export interface AppDeps {
  config: Config;
  log: Logger;
  database: DatabaseHandle;
  redis: Redis | undefined;
  health: HealthMonitor;
  startedAt: Date;
  tokens: TokenService;
  loginThrottle: LoginThrottle;
  edge: Edge;
  /** Dispatched events, from every process (the live stream subscribes to it). */
  bus: EventBus;
  /** The open `text/event-stream` answers, which a graceful stop ends. */
  streams: OpenStreams;
  /** Encrypts the stored secrets that must be read back (webhook signing secrets). */
  secretBox: SecretBox;
  /** Sends webhook deliveries; woken when a request queues one (ping, redelivery). */
  webhookDeliverer: Pick<WebhookDeliverer, 'wake'>;
}

/** One line per request, when its answer is over (a stream's too, however it ended): `info`, or `error` for a 5xx. */
function accessLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    res.on('close', () => {
      const level = res.statusCode >= 500 ? 'error' : 'info';
      if (!log.isLevelEnabled(level)) return;
      const ms = Math.round((performance.now() - req.ctx.startedAt) * 10) / 10;
      // `aborted`: the connection closed before the answer was complete (a client that went away mid-stream).
      req.ctx.log[level]({ method: req.method, path: req.path, status: res.statusCode, ms, ...(res.writableFinished ? {} : { aborted: true }) }, 'request');
    });
    next();
  };
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.trustProxy);
  app.set('etag', false);

  app.use(requestContext(deps.log));
  if (deps.config.corsOrigins.length > 0) {
    app.use(
      cors({
        origin: [...deps.config.corsOrigins],
        exposedHeaders: [
          'X-Request-ID',
          'Location',
          'Link',
          'Retry-After',
          'WWW-Authenticate',
          'ETag',
          'Last-Modified',
          'X-RateLimit-Limit',
          'X-RateLimit-Remaining',
          'X-RateLimit-Reset',
          'X-RateLimit-Bucket',
          'Idempotent-Replayed',
          'Deprecation',
          'Sunset',
        ],
        maxAge: 600,
      }),
    );
  }
  app.use(accessLog(deps.log));
  app.use((_req, res, next) => {
    if (deps.health.shuttingDown) res.setHeader('Connection', 'close');
    next();
  });

  app.get('/openapi.json', (_req, res) => res.type('application/json').sendFile(bundledSpecPath));
  app.get('/openapi.yaml', (_req, res) => res.type('application/yaml').sendFile(bundledSpecYamlPath));
  app.get(['/docs', '/docs/'], (_req, res) => res.type('text/html').sendFile(docsPath));

  app.use(
    express.json({
      limit: deps.config.bodyLimitBytes,
      strict: false,
      // Only methods whose operations take a body read one; a body sent with GET or DELETE is ignored.
      type: (req) => BODY_METHODS.has(req.method ?? '') && Boolean(typeis(req, ['application/json', 'application/*+json'])),
    }),
  );
  app.use(auditRecorder(deps.database.db));
  app.use(guardOperations(new Authenticator(deps.database.db, deps.tokens), deps.edge.rateLimits));
  app.use(openApiValidator(deps.config.validateResponses));
  app.use(bindOperations(createHandlers(deps), deps.edge.idempotency, deps.streams));
  app.use(errorMiddleware());
  app.use(undeclaredErrorMiddleware());
  return app;
}
