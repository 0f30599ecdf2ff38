// createApp: CORS → the static contract and docs → one route per operation (the request pipeline,
// http/pipeline.ts, where every step of an operation reads top to bottom) → 404 for anything else.
import cors from 'cors';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Kysely } from 'kysely';
import { Authenticator, type AgentKeyIdentity, type CallerDirectory } from './auth/authenticate.ts';
import { CachedCallerDirectory } from './auth/caller-cache.ts';
import type { ChangeFeedFollower } from './db/change-feed.ts';
import type { Database } from './db/schema.ts';
import type { AppDeps } from './deps.ts';
import { createHandlers } from './handlers.ts';
import { operationRoutes, unmatched } from './http/pipeline.ts';
import { openApiValidator } from './http/validator.ts';
import { securityHeaders } from './http/security-headers.ts';
import { ServedContract } from './http/served-contract.ts';
import { StaticTokens } from './http/static-token.ts';
import type { Logger } from './logger.ts';
import { findAgentKeys } from './modules/agent-protocol/agent-protocol.repository.ts';
import { Batcher } from './db/batcher.ts';
import { findCertificateForAuth } from './modules/certificates/certificates.repository.ts';
import { findKeyForAuth, touchApiKey } from './modules/api-keys/api-keys.repository.ts';
import { auditSink } from './modules/audit/audit-recorder.ts';
import { findCaller } from './modules/users/users.repository.ts';

/**
 * Who a credential belongs to, from the users, API keys and agent-protocol repositories, behind the
 * per-process cache that follows the change feed (auth/caller-cache.ts).
 */
export function callerDirectory(db: Kysely<Database>, feed: ChangeFeedFollower): CachedCallerDirectory {
  // A process that has just started knows none of a fleet's keys, and its agents' first heartbeats come at
  // thousands a second: their keys are read a few hundred per statement, not one statement each.
  const agentKeys = new Batcher<string, AgentKeyIdentity | undefined>({
    maxItems: 500,
    concurrency: 2,
    write: async (prefixes) => {
      const rows = new Map((await findAgentKeys(db, prefixes)).map(({ prefix, ...row }) => [prefix, row]));
      return prefixes.map((prefix) => rows.get(prefix));
    },
  });
  const repositories: CallerDirectory = {
    findUser: (id) => findCaller(db, id),
    findApiKey: (prefix) => findKeyForAuth(db, prefix),
    findAgentKey: (prefix) => agentKeys.add(prefix),
    findAgentCertificate: (serialNumber) => findCertificateForAuth(db, serialNumber),
    touchApiKey: (id) => touchApiKey(db, id),
  };
  return new CachedCallerDirectory(repositories, feed);
}

const EXPOSED_HEADERS = [
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
];

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.trustProxy);
  app.set('etag', false);
  app.use(securityHeaders(deps.config.publicUrl));

  if (deps.config.corsOrigins.length > 0) app.use(cors({ origin: [...deps.config.corsOrigins], exposedHeaders: EXPOSED_HEADERS, maxAge: 600 }));
  app.use((_req, res, next) => {
    if (deps.health.shuttingDown) res.setHeader('Connection', 'close');
    next();
  });

  // The contract and the docs, naming this server's origin in their server list (http/served-contract.ts).
  const served = new ServedContract({ publicUrl: deps.config.publicUrl, trustProxy: deps.config.trustProxy !== false });
  app.get('/openapi.json', served.json);
  app.get('/openapi.yaml', served.yaml);
  app.get(['/docs', '/docs/'], served.docs);
  app.get('/asyncapi.json', served.asyncApiJson);
  app.get('/asyncapi.yaml', served.asyncApiYaml);

  const authenticator = new Authenticator(deps.callers, deps.tokens);
  app.use(
    operationRoutes({
      handlers: createHandlers(deps, authenticator),
      authenticator,
      limits: deps.edge.rateLimits,
      idempotency: deps.edge.idempotency,
      streams: deps.streams,
      validator: openApiValidator(deps.config.validateResponses),
      audit: auditSink(deps.database.db),
      feed: deps.feed,
      log: deps.log,
      bodyLimitBytes: deps.config.bodyLimitBytes,
      databaseTimeoutMs: deps.config.dbTimeoutMs,
      metrics: deps.metrics,
      staticTokens: new StaticTokens({ metricsToken: deps.config.metricsToken }),
    }),
  );
  const fallback = unmatched(deps.log, deps.metrics);
  app.use(fallback.notFound);
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => fallback.failed(err, req, res, next));
  return app;
}
