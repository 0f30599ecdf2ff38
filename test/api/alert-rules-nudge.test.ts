// Alert rules are evaluated as metrics arrive, not only on their timer. Two processes share one database: B runs
// the background workers (the evaluator) with a 60 s ALERT_EVALUATION_INTERVAL_MS, A runs none and takes the agent's
// metrics. A sample crossing the threshold, reported to A, fires the alert within about 2 s: the nudge travels
// through the rule's due time in PostgreSQL to B's evaluator. The nudges of many reports coalesce: a rule evaluated
// less than the gap ago is made due at the end of that gap, not now, and a second nudge within it changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { claimDueRule, nudgeRules } from '../../server/modules/alert-rules/alert-rules.repository.ts';
import { NUDGE_GAP_MS } from '../../server/modules/alert-rules/alert-rules.nudger.ts';
import { http } from '../support/http.ts';
import { TEST_ADMIN } from '../support/identity.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually, sleep } from '../support/webhook-receiver.ts';
import { enrolAgent } from '../support/agents.ts';

const INTERVAL_MS = 60_000;
const RULES = '/api/v1/metrics/alerts/rules';
let b: TestServer;
let a: RunningServer | undefined;

beforeAll(async () => {
  b = await startTestServer({ ALERT_EVALUATION_INTERVAL_MS: String(INTERVAL_MS), OUTBOX_POLL_MS: '50' });
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    PGLITE_DIR: 'memory://',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
    OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
    OPSDECK_DEMO_DATA: 'false',
    BACKGROUND_WORKERS: 'false',
    ALERT_EVALUATION_INTERVAL_MS: String(INTERVAL_MS),
    ...(b.testDatabase.url ? { DATABASE_URL: b.testDatabase.url } : {}),
  });
  // Two processes on one database take the real PostgreSQL (PGlite lives in one process).
  if (b.testDatabase.url) a = await startServer(config, createLogger(config.logLevel));
}, 60_000);
afterAll(async () => {
  await a?.stop();
  await b?.close();
});

const enrol = () => enrolAgent(b, 'nudge tests');
const cpuRule = (agentId: string) => ({
  name: 'CPU above 90%',
  metric: 'cpu_usage',
  scope: { agent_id: agentId },
  condition: { aggregation: 'last', window_seconds: 60, operator: '>', threshold: 90 },
  for_seconds: 0,
  severity: 'critical',
});
const alertsOf = async (ruleId: string, agentId: string) =>
  ((await b.call('GET', `/api/v1/alerts?agent_id=${agentId}&limit=100`)).body.data as Array<{ rule_id: string | null; status: string }>).filter((x) => x.rule_id === ruleId);

describe('alert rules: evaluated as metrics arrive', () => {
  it('fires within ~2 s of a crossing sample reported to another process, with a 60 s evaluation interval', async (ctx) => {
    if (!a) return ctx.skip();
    const { agent, key } = await enrol();
    const rule = (await b.call('POST', RULES, { json: cpuRule(agent.id) })).body.data;
    // The new rule's first evaluation (no data yet, nothing fires); its next due time is then a minute away.
    await eventually(async () => {
      const { rows } = await sql<{ due: Date }>`select next_evaluation_at as due from alert_rules where id = ${rule.id}`.execute(b.database.db);
      return rows[0]!.due.getTime() > Date.now() + 30_000 ? true : undefined;
    });
    // A quiet sample: evaluated (nudged), nothing fires.
    const quiet = await http(a!.url, 'POST', '/api/v1/agent/metrics', { headers: { 'x-api-key': key }, json: { samples: [{ name: 'cpu_usage', at: new Date().toISOString(), value: 20 }] } });
    expect(quiet.status, quiet.text).toBe(204);
    await sleep(1000);
    expect(await alertsOf(rule.id, agent.id)).toEqual([]);
    const sentAt = Date.now();
    const hot = await http(a!.url, 'POST', '/api/v1/agent/metrics', { headers: { 'x-api-key': key }, json: { samples: [{ name: 'cpu_usage', at: new Date().toISOString(), value: 97 }] } });
    expect(hot.status, hot.text).toBe(204);
    const firing = await eventually(async () => {
      const found = await alertsOf(rule.id, agent.id);
      return found.length > 0 ? found : undefined;
    }, 5_000, 'the alert to fire');
    const delay = Date.now() - sentAt;
    expect(firing).toHaveLength(1);
    expect(delay).toBeLessThan(2_000);
  }, 30_000);

  it('coalesces nudges: a rule evaluated less than the gap ago becomes due at the end of the gap, once', async () => {
    const { agent } = await enrol();
    const rule = (await b.call('POST', RULES, { json: { ...cpuRule(agent.id), metric: 'load_1m' } })).body.data;
    const db = b.database.db;
    // Take the rule as an evaluator does (pushed a minute away), then nudge it twice, as two reports (or processes) would.
    const claimedAt = await db.transaction().execute(async (trx) => {
      // Made due and claimed in one transaction: B's evaluator cannot take it in between.
      // (A second back: times are stored to the millisecond, so `now()` itself may be stored a little after now.)
      await sql`update alert_rules set next_evaluation_at = now() - interval '1 second' where id = ${rule.id}`.execute(trx);
      let claimed;
      // Another team's rules may be due too: claim until ours is held.
      while ((claimed = await claimDueRule(trx, INTERVAL_MS)) && claimed.rule.id !== rule.id);
      const { rows } = await sql<{ due: Date }>`select evaluated_at as due from alert_rules where id = ${rule.id}`.execute(trx);
      return rows[0]!.due;
    });
    const pair = [{ team_id: b.teamId, name: 'load_1m', since: new Date() }];
    expect((await nudgeRules(db, pair, NUDGE_GAP_MS)).nudged).toContain(rule.id);
    const { rows } = await sql<{ due: Date }>`select next_evaluation_at as due from alert_rules where id = ${rule.id}`.execute(db);
    const due = rows[0]!.due.getTime();
    expect(due).toBeGreaterThanOrEqual(claimedAt.getTime());
    expect(due).toBeLessThanOrEqual(Math.max(Date.now(), claimedAt.getTime() + NUDGE_GAP_MS) + 5);
    // Already due within the gap: a second nudge is a no-op (no second evaluation).
    expect((await nudgeRules(db, pair, NUDGE_GAP_MS)).nudged).not.toContain(rule.id);
    // A rule under evaluation (its row locked) is not waited for: it is answered busy, for the nudger to retry.
    await sql`update alert_rules set next_evaluation_at = now() + interval '1 minute' where id = ${rule.id}`.execute(db);
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = db.transaction().execute(async (trx) => {
      await sql`select id from alert_rules where id = ${rule.id} for update`.execute(trx);
      locked();
      await released;
    });
    await isLocked;
    const started = Date.now();
    const whileBusy = await nudgeRules(db, pair, NUDGE_GAP_MS);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect([...whileBusy.busy.keys()]).toContain(rule.id);
    release();
    await holder;
    expect((await nudgeRules(db, [], NUDGE_GAP_MS, whileBusy.busy)).nudged).toContain(rule.id);
    // A metric no rule watches nudges nothing.
    expect(await nudgeRules(db, [{ team_id: b.teamId, name: 'net_rx_bytes', since: new Date() }], NUDGE_GAP_MS)).toEqual({ nudged: [], busy: new Map() });
  });
});
