// Frozen: the W3C trace context (`traceparent`, `tracestate`) of the request that caused an event, recorded
// with the event in the outbox when tracing is on (server/observability/tracing.ts), so the dispatch of the
// event and its webhook attempts are traced as part of that request's trace. Null when tracing is off.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('events').addColumn('traceparent', 'text').addColumn('tracestate', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('events').dropColumn('traceparent').dropColumn('tracestate').execute();
}
