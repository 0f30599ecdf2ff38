// The OpenTelemetry SDK behind tracing.ts, loaded only when tracing is on: a tracer provider with a batch span
// processor and an OTLP/HTTP exporter (protobuf or JSON), the W3C trace-context propagator, and an
// AsyncLocalStorage context manager, so a span started in a request is the parent of what the request does.
//
// No auto-instrumentation: @opentelemetry/instrumentation-pg and -ioredis patch modules through
// require-in-the-middle / import-in-the-middle, which needs a loader hook registered before those modules load.
// Opsdeck runs as ESM with its own loader (typescript-cache.mjs) and loads pg and ioredis with dynamic imports,
// which such hooks do not see reliably; and the embedded database (PGlite) is not pg at all. So each is traced
// at one choke point instead:
// - PostgreSQL (pg and PGlite alike): a wrapper of the Kysely dialect that every query goes through
//   (`tracedDialect`, applied in database.ts);
// - Redis: ioredis's own diagnostics channels (`ioredis:command`, `ioredis:batch`), which it publishes for
//   every command it writes, whatever loaded it; nothing wraps the client.
// Both make spans only inside another span (a request, a dispatch, an attempt), so background polling (the
// change feed, the outbox poll, the sweeper) does not flood the exporter with root spans.
import { tracingChannel } from 'node:diagnostics_channel';
import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { getNumberFromEnv, getStringFromEnv, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  detectResources,
  hostDetector,
  processDetector,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
  serviceNameEnvDetector,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  DB_SYSTEM_NAME_VALUE_POSTGRESQL,
} from '@opentelemetry/semantic-conventions';
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';
import type { TracingConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import { version } from '../version.ts';
import type { AttemptResult, DatabaseTarget, DeliveryAttempt, StoredTraceContext, Tracing } from './tracing.ts';

/** The longest query text a span keeps (a bulk insert's SQL can run to many kilobytes). */
const QUERY_TEXT_LENGTH = 2048;
/** Redis command text, likewise (arguments as ioredis sanitized them: values of writes are `?`). */
const COMMAND_TEXT_LENGTH = 512;
/** At most one line per this long about export failures, however often the exporter retries. */
const DIAG_LOG_INTERVAL_MS = 60_000;

export function createTracing(config: TracingConfig, log: Logger): Tracing {
  diag.setLogger(diagnostics(log), DiagLogLevel.WARN);
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const propagator = new W3CTraceContextPropagator();

  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'opsdeck', [ATTR_SERVICE_VERSION]: version }).merge(
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES come last, so they override the defaults above.
    detectResources({ detectors: [hostDetector, processDetector, serviceInstanceIdDetector, resourceAttributesEnvDetector, serviceNameEnvDetector] }),
  );
  const provider = new TracerProvider({
    resource,
    sampler: samplerFromEnv(log),
    spanProcessors: [
      // The standard OTEL_BSP_* variables (the SDK itself reads no environment).
      new BatchSpanProcessor({
        exporter: exporterFor(config),
        ...defined({
          scheduledDelayMillis: getNumberFromEnv('OTEL_BSP_SCHEDULE_DELAY'),
          exportTimeoutMillis: getNumberFromEnv('OTEL_BSP_EXPORT_TIMEOUT'),
          maxQueueSize: getNumberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE'),
          maxExportBatchSize: getNumberFromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
        }),
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer('opsdeck', version);
  const unsubscribeRedis = traceRedisCommands(tracer);

  /** The context a stored `traceparent` names, if it is a valid one. */
  const storedContext = (stored: StoredTraceContext): Context | undefined => {
    if (!stored.traceparent) return undefined;
    const carrier = stored.tracestate ? { traceparent: stored.traceparent, tracestate: stored.tracestate } : { traceparent: stored.traceparent };
    const extracted = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    return trace.getSpanContext(extracted) ? extracted : undefined;
  };

  // (The resource's own attributes are read only once its detectors have settled, when spans are exported.)
  log.info({ protocol: config.protocol, service_name: getStringFromEnv('OTEL_SERVICE_NAME') ?? 'opsdeck' }, 'tracing: spans are exported over OTLP');

  return {
    request(op, req, res, run) {
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
      const span = tracer.startSpan(
        op.operationId,
        {
          kind: SpanKind.SERVER,
          attributes: defined({
            [ATTR_HTTP_REQUEST_METHOD]: req.method,
            [ATTR_HTTP_ROUTE]: op.path,
            [ATTR_URL_PATH]: req.path,
            [ATTR_URL_SCHEME]: req.protocol,
            [ATTR_CLIENT_ADDRESS]: req.ip,
            [ATTR_USER_AGENT_ORIGINAL]: req.headers['user-agent'],
            [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
            'opsdeck.operation_id': op.operationId,
          }),
        },
        parent,
      );
      // The answer is over (sent, or the client went away): the request id is known by then (X-Request-ID).
      res.once('close', () => {
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
        const requestId = res.getHeader('x-request-id');
        if (typeof requestId === 'string') span.setAttribute('opsdeck.request_id', requestId);
        if (!res.writableFinished) span.setAttribute('opsdeck.aborted', true);
        if (res.statusCode >= 500) {
          span.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      });
      return context.with(trace.setSpan(parent, span), run);
    },

    currentContext() {
      const carrier: Record<string, string> = {};
      propagator.inject(context.active(), carrier, defaultTextMapSetter);
      return carrier.traceparent ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate ?? null } : undefined;
    },

    logFields(): Record<string, string> {
      const span = trace.getSpan(context.active());
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },

    dialect: (dialect, target) => tracedDialect(dialect, target, tracer),

    async dispatch(events, work) {
      const links: Link[] = [];
      for (const event of events) {
        const stored = storedContext(event);
        const linked = stored && trace.getSpanContext(stored);
        if (linked) links.push({ context: linked });
      }
      const span = tracer.startSpan(
        'outbox dispatch',
        { kind: SpanKind.PRODUCER, links, attributes: { 'messaging.system': 'opsdeck.outbox', 'messaging.operation.type': 'send', 'messaging.batch.message_count': events.length } },
        ROOT_CONTEXT,
      );
      return settle(span, context.with(trace.setSpan(ROOT_CONTEXT, span), work));
    },

    async delivery<T extends AttemptResult>(attempt: DeliveryAttempt, work: (headers: Record<string, string>) => Promise<T>): Promise<T> {
      // A child of the request that caused the event (it is part of that request's trace), or a root span.
      const parent = storedContext(attempt) ?? ROOT_CONTEXT;
      const url = URL.parse(attempt.url);
      const span = tracer.startSpan(
        `webhook ${attempt.eventType}`,
        {
          kind: SpanKind.CLIENT,
          attributes: defined({
            [ATTR_HTTP_REQUEST_METHOD]: 'POST',
            // Without its query string, which may hold a credential of the receiver's.
            [ATTR_URL_FULL]: url ? `${url.origin}${url.pathname}` : undefined,
            [ATTR_SERVER_ADDRESS]: url?.hostname,
            [ATTR_SERVER_PORT]: url ? Number(url.port || (url.protocol === 'https:' ? 443 : 80)) : undefined,
            'opsdeck.delivery_id': attempt.deliveryId,
            'opsdeck.webhook_id': attempt.webhookId,
            'opsdeck.event_id': attempt.eventId,
            'opsdeck.event_type': attempt.eventType,
          }),
        },
        parent,
      );
      const active = trace.setSpan(parent, span);
      const headers: Record<string, string> = {};
      propagator.inject(active, headers, defaultTextMapSetter);
      const outcome = await settle(span, context.with(active, () => work(headers)), false);
      if (outcome.statusCode !== null) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, outcome.statusCode);
      if (!outcome.succeeded) {
        span.setAttribute(ATTR_ERROR_TYPE, outcome.statusCode !== null ? String(outcome.statusCode) : 'no_answer');
        span.setStatus({ code: SpanStatusCode.ERROR, ...(outcome.error ? { message: outcome.error } : {}) });
      }
      span.end();
      return outcome;
    },

    async shutdown() {
      unsubscribeRedis();
      await provider.shutdown();
      contextManager.disable();
    },
  };
}

// ── export ─────────────────────────────────────────────────────────────────────────────────────────────────

function exporterFor(config: TracingConfig): SpanExporter {
  // Each reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION and the certificates itself.
  return config.protocol === 'http/json' ? new JsonExporter() : new ProtobufExporter();
}

/** OTEL_TRACES_SAMPLER (and OTEL_TRACES_SAMPLER_ARG), as the specification names them; default parentbased_always_on. */
function samplerFromEnv(log: Logger): Sampler {
  const name = getStringFromEnv('OTEL_TRACES_SAMPLER')?.toLowerCase() ?? 'parentbased_always_on';
  const ratio = () => {
    const value = getNumberFromEnv('OTEL_TRACES_SAMPLER_ARG');
    return value !== undefined && value >= 0 && value <= 1 ? value : 1;
  };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    default:
      log.warn({ sampler: name }, 'tracing: unknown OTEL_TRACES_SAMPLER, using parentbased_always_on');
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * The SDK's own warnings and errors (an export that failed), as log lines, at most one a minute. Written outside
 * any span: the export runs on a timer that inherited the context of whichever span ended first, which these
 * lines are not about.
 */
function diagnostics(log: Logger) {
  let lastAt = -Infinity;
  let suppressed = 0;
  const report = (message: string, ...args: unknown[]) => {
    const now = performance.now();
    if (now - lastAt < DIAG_LOG_INTERVAL_MS) return void (suppressed += 1);
    lastAt = now;
    // The SDK hands over an exception as its JSON (core's logging error handler): its message is what says.
    let text = message;
    try {
      text = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      // a plain message
    }
    const detail = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    context.with(ROOT_CONTEXT, () => log.warn({ ...(detail ? { detail: detail.slice(0, 500) } : {}), suppressed }, `tracing: ${text.slice(0, 300)}`));
    suppressed = 0;
  };
  const quiet = () => undefined;
  return { error: report, warn: report, info: quiet, debug: quiet, verbose: quiet };
}

// ── spans ──────────────────────────────────────────────────────────────────────────────────────────────────

/** Ends `span` when `work` settles, recording a failure (`end`: false leaves ending to the caller). */
async function settle<T>(span: Span, work: Promise<T>, end = true): Promise<T> {
  try {
    const value = await work;
    if (end) span.end();
    return value;
  } catch (err) {
    failed(span, err);
    span.end();
    throw err;
  }
}

function failed(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setAttribute(ATTR_ERROR_TYPE, (error as NodeJS.ErrnoException).code ?? error.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/** The attributes whose values are defined (OTel refuses undefined ones). */
function defined<T extends Record<string, unknown>>(values: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as never;
}

// ── PostgreSQL: the Kysely dialect ─────────────────────────────────────────────────────────────────────────

/** `select … from "agents" …` → `{ operation: 'SELECT', table: 'agents' }`, for the span's name and attributes. */
export function summarize(sql: string): { operation: string; table: string | undefined } {
  const operation = (/^\s*([a-z]+)/i.exec(sql)?.[1] ?? 'QUERY').toUpperCase();
  const pattern =
    operation === 'SELECT' || operation === 'DELETE' ? /\bfrom\s+("[^"]+"|[\w.]+)/i : operation === 'INSERT' ? /^\s*insert\s+into\s+("[^"]+"|[\w.]+)/i : operation === 'UPDATE' ? /^\s*update\s+("[^"]+"|[\w.]+)/i : undefined;
  const table = pattern?.exec(sql)?.[1]?.replaceAll('"', '');
  return { operation, table };
}

/**
 * Wraps a Kysely dialect so that every query its connections run (whichever runs them: a request, a
 * transaction's BEGIN and COMMIT, a savepoint) is a client span, when there is a span to be its parent.
 * Connections and the driver are proxies of the real ones: everything but running a query goes straight to them.
 */
function tracedDialect(dialect: Dialect, target: DatabaseTarget, tracer: Tracer): Dialect {
  const base: Attributes = defined({
    [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
    [ATTR_DB_NAMESPACE]: target.namespace,
    [ATTR_SERVER_ADDRESS]: target.address,
    [ATTR_SERVER_PORT]: target.port,
  });
  const wrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();
  const execute =
    (connection: DatabaseConnection) =>
    <R>(query: CompiledQuery, ...rest: unknown[]) => {
      const run = () => (connection.executeQuery as (q: CompiledQuery, ...r: unknown[]) => ReturnType<DatabaseConnection['executeQuery']>).call(connection, query, ...rest) as Promise<QueryResult<R>>;
      const parent = context.active();
      if (!trace.getSpan(parent)) return run();
      const { operation, table } = summarize(query.sql);
      const span = tracer.startSpan(
        table ? `${operation} ${table}` : operation,
        {
          kind: SpanKind.CLIENT,
          attributes: { ...base, ...defined({ [ATTR_DB_OPERATION_NAME]: operation, [ATTR_DB_COLLECTION_NAME]: table }), [ATTR_DB_QUERY_TEXT]: query.sql.slice(0, QUERY_TEXT_LENGTH) },
        },
        parent,
      );
      return settle(span, run());
    };
  const wrap = (connection: DatabaseConnection): DatabaseConnection => {
    let proxy = wrapped.get(connection);
    if (!proxy) {
      const executeQuery = execute(connection);
      proxy = new Proxy(connection, {
        get(target, property) {
          if (property === 'executeQuery') return executeQuery;
          const value = Reflect.get(target, property, target) as unknown;
          // Bound to the real connection: its methods use private fields a proxy does not have.
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      wrapped.set(connection, proxy);
    }
    return proxy;
  };
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => {
      const driver = dialect.createDriver();
      const acquireConnection: Driver['acquireConnection'] = async (options) => wrap(await driver.acquireConnection(options));
      return new Proxy(driver, {
        get(target, property) {
          if (property === 'acquireConnection') return acquireConnection;
          const value = Reflect.get(target, property, target) as unknown;
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
}

// ── Redis: ioredis's diagnostics channels ──────────────────────────────────────────────────────────────────

interface RedisCommandMessage {
  command?: string;
  args?: string[];
  batchMode?: string;
  batchSize?: number;
  database?: number;
  serverAddress?: string;
  serverPort?: number;
  error?: unknown;
}

/** A span per Redis command (and per MULTI batch) run inside another span; answers how to stop. */
function traceRedisCommands(tracer: Tracer): () => void {
  const spans = new WeakMap<object, Span>();
  const subscriber = (operationOf: (m: RedisCommandMessage) => string, suffix = '') => ({
    start(message: RedisCommandMessage) {
      // Published synchronously where the command is sent, so the active context is its caller's.
      const parent = context.active();
      if (!trace.getSpan(parent)) return;
      const operation = operationOf(message);
      // EVAL's first argument is a whole Lua script: named by its place, as EVALSHA names it by its hash.
      const args = message.command?.toLowerCase() === 'eval' ? ['<script>', ...(message.args ?? []).slice(1)] : (message.args ?? []);
      const text = message.command ? [message.command, ...args].join(' ').slice(0, COMMAND_TEXT_LENGTH) : undefined;
      const span = tracer.startSpan(
        `${operation}${suffix}`,
        {
          kind: SpanKind.CLIENT,
          attributes: defined({
            [ATTR_DB_SYSTEM_NAME]: 'redis',
            [ATTR_DB_OPERATION_NAME]: operation,
            [ATTR_DB_NAMESPACE]: message.database !== undefined ? String(message.database) : undefined,
            [ATTR_DB_QUERY_TEXT]: text,
            [ATTR_SERVER_ADDRESS]: message.serverAddress,
            [ATTR_SERVER_PORT]: message.serverPort,
            'db.operation.batch.size': message.batchSize,
          }),
        },
        parent,
      );
      spans.set(message, span);
    },
    end() {},
    asyncStart() {},
    asyncEnd(message: RedisCommandMessage) {
      spans.get(message)?.end();
      spans.delete(message);
    },
    error(message: RedisCommandMessage) {
      const span = spans.get(message);
      if (span) failed(span, message.error);
    },
  });
  const commands = tracingChannel<unknown, RedisCommandMessage>('ioredis:command');
  const batches = tracingChannel<unknown, RedisCommandMessage>('ioredis:batch');
  const onCommand = subscriber((m) => (m.command ?? 'command').toUpperCase());
  // The batch as a whole (its MULTI and EXEC are commands of their own).
  const onBatch = subscriber((m) => m.batchMode ?? 'MULTI', ' batch');
  commands.subscribe(onCommand);
  batches.subscribe(onBatch);
  return () => {
    commands.unsubscribe(onCommand);
    batches.unsubscribe(onBatch);
  };
}
