// OpenTelemetry tracing, on when an OTLP endpoint is configured (config.ts: `OTEL_EXPORTER_OTLP_ENDPOINT` or
// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), off otherwise.
//
// This module is all the rest of the server imports, and it loads no @opentelemetry package: `startTracing`
// imports the SDK (tracing-sdk.ts) dynamically, so a server without tracing never loads it, and each hook
// below costs one check of the `tracingOn` boolean when tracing is off. What is traced:
// - every request that reaches an operation: a server span named by its operationId, child of the
//   request's W3C `traceparent`/`tracestate` (pipeline.ts);
// - PostgreSQL queries (a Kysely dialect wrapper, database.ts) and Redis commands (ioredis's own
//   diagnostics channels), as children of the span they run in;
// - an event's way out: its trace context is stored with it in the outbox (outbox.ts), the dispatch of a
//   batch is a span linked to the requests that caused its events (dispatcher.ts), and each webhook attempt
//   is a client span in the trace of the request that caused its event, whose `traceparent` goes with the
//   POST (webhooks.deliverer.ts).
import type { Request, Response } from 'express';
import type { Dialect } from 'kysely';
import type { TracingConfig } from '../config.ts';
import type { OperationEntry } from '../http/operation-table.ts';
import type { Logger } from '../logger.ts';

/** The W3C trace context kept with an outbox event (both null: not traced). */
export interface StoredTraceContext {
  traceparent: string | null;
  tracestate: string | null;
}

/** Where a database connection goes, for the attributes of its spans. */
export interface DatabaseTarget {
  /** The database's name. */
  namespace: string | undefined;
  address: string | undefined;
  port: number | undefined;
}

/** One webhook attempt, as its span describes it. */
export interface DeliveryAttempt extends StoredTraceContext {
  deliveryId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  url: string;
}

/** How an attempt ended, as its span records it. */
export interface AttemptResult {
  statusCode: number | null;
  succeeded: boolean;
  error: string | null;
}

/** What the SDK module implements; see the functions below for each one's use. */
export interface Tracing {
  request(op: OperationEntry, req: Request, res: Response, run: () => Promise<void>): Promise<void>;
  currentContext(): StoredTraceContext | undefined;
  logFields(): Record<string, string>;
  dialect(dialect: Dialect, target: DatabaseTarget): Dialect;
  dispatch<T>(events: readonly StoredTraceContext[], work: () => Promise<T>): Promise<T>;
  delivery<T extends AttemptResult>(attempt: DeliveryAttempt, work: (headers: Record<string, string>) => Promise<T>): Promise<T>;
  shutdown(): Promise<void>;
}

/** Whether tracing is on in this process (read as a live binding: it changes once, when tracing starts). */
export let tracingOn = false;
let active: Tracing | undefined;

/** Loads the SDK and starts exporting; called once, at start-up, when the configuration turns tracing on. */
export async function startTracing(config: TracingConfig, log: Logger): Promise<void> {
  if (active) return;
  const { createTracing } = await import('./tracing-sdk.ts');
  active = createTracing(config, log);
  tracingOn = true;
}

/** Ends tracing: the spans not yet exported are sent (bounded by `timeoutMs`), then nothing more is traced. */
export async function stopTracing(timeoutMs = 5000): Promise<void> {
  const tracing = active;
  if (!tracing) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([tracing.shutdown().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()))]);
  clearTimeout(timer);
  tracingOn = false;
  active = undefined;
}

/** The server span of one request to an operation, active while `run` runs (call only when `tracingOn`). */
export const traceRequest = (op: OperationEntry, req: Request, res: Response, run: () => Promise<void>): Promise<void> => active!.request(op, req, res, run);

/** The trace context to store with an event recorded now (undefined when tracing is off). */
export const currentTraceContext = (): StoredTraceContext | undefined => (tracingOn ? active!.currentContext() : undefined);

/** `trace_id` and `span_id` of the active span, for log lines (pino's mixin, set only when tracing is on). */
export const traceLogFields = (): Record<string, string> => (tracingOn ? active!.logFields() : {});

/** The dialect, with a span per query when tracing is on (the same dialect when it is off). */
export const tracedDialect = (dialect: Dialect, target: DatabaseTarget): Dialect => (tracingOn ? active!.dialect(dialect, target) : dialect);

/** Runs the dispatch of a batch of events; traced, it is a span linked to the requests that caused them. */
export const traceDispatch = <T>(events: readonly StoredTraceContext[], work: () => Promise<T>): Promise<T> => (tracingOn ? active!.dispatch(events, work) : work());

/**
 * Runs one webhook attempt; traced, it is a client span in the trace of the request that caused the event,
 * and `work` receives the `traceparent` (and `tracestate`) headers to send (none when tracing is off).
 */
export const traceDelivery = <T extends AttemptResult>(attempt: DeliveryAttempt, work: (headers: Record<string, string>) => Promise<T>): Promise<T> =>
  tracingOn ? active!.delivery(attempt, work) : work({});
