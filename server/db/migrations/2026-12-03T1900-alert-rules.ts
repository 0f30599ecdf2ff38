// Frozen: alert rules. A team's rules over the metrics its agents report, each with the time it is next due
// (`next_evaluation_at`: an evaluator claims due rules with FOR UPDATE SKIP LOCKED, so each due time is
// evaluated once across processes), the pending or firing state of each (rule, agent), and on alerts the
// rule that raised them and its labels.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('alert_rules')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('metric', 'varchar(128)', (c) => c.notNull())
    .addColumn('scope', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('aggregation', 'varchar(8)', (c) => c.notNull().check(sql`aggregation in ('avg', 'min', 'max', 'last', 'count')`))
    .addColumn('window_seconds', 'integer', (c) => c.notNull())
    .addColumn('operator', 'varchar(2)', (c) => c.notNull().check(sql`operator in ('>', '>=', '<', '<=', '==', '!=')`))
    .addColumn('threshold', 'float8', (c) => c.notNull())
    .addColumn('for_seconds', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('no_data_seconds', 'integer')
    .addColumn('severity', 'varchar(16)', (c) => c.notNull().check(sql`severity in ('info', 'warning', 'critical')`))
    .addColumn('labels', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('description_template', 'varchar(1000)', (c) => c.notNull().defaultTo(''))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('next_evaluation_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('alert_rules_team_created_idx').on('alert_rules').columns(['team_id', 'created_at', 'id']).execute();
  // The evaluator's claim: enabled rules by due time.
  await db.schema.createIndex('alert_rules_due_idx').on('alert_rules').column('next_evaluation_at').where(sql<boolean>`enabled`).execute();

  // One row per (rule, agent) whose condition holds: pending since `since`, firing once `alert_id` is set.
  await db.schema
    .createTable('alert_rule_states')
    .addColumn('rule_id', 'uuid', (c) => c.notNull().references('alert_rules.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('since', ts, (c) => c.notNull())
    .addColumn('alert_id', 'uuid', (c) => c.references('alerts.id').onDelete('set null'))
    .addPrimaryKeyConstraint('alert_rule_states_pkey', ['rule_id', 'agent_id'])
    .execute();

  await db.schema
    .alterTable('alerts')
    .addColumn('rule_id', 'uuid', (c) => c.references('alert_rules.id').onDelete('set null'))
    .addColumn('labels', 'jsonb')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('alerts').dropColumn('rule_id').dropColumn('labels').execute();
  await db.schema.dropTable('alert_rule_states').execute();
  await db.schema.dropTable('alert_rules').execute();
}
