// Frozen: alert rules evaluated as metrics arrive. `evaluated_at` is when an evaluator last took the rule (the
// nudges of metric reports keep a gap after it); `full_evaluation_at` is when the next evaluation over every agent
// in the rule's scope is due (every ALERT_EVALUATION_INTERVAL_MS); an evaluation before it, made due by a nudge,
// reads only the agents with a sample taken since `fresh_since` (the oldest sample time of the reports that nudged
// it since its last evaluation) and those with a pending or firing state.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('alert_rules')
    .addColumn('evaluated_at', sql`timestamptz(3)`)
    .addColumn('full_evaluation_at', sql`timestamptz(3)`, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('fresh_since', sql`timestamptz(3)`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('alert_rules').dropColumn('evaluated_at').dropColumn('full_evaluation_at').dropColumn('fresh_since').execute();
}
