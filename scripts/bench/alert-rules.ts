// The alert_rules section of the bench: 1,000 agents and 100 rules. It seeds 1,000 online agents (each with an
// agent key, so it reports over HTTP as a host does) tagged for the run, and a sample of `cpu_usage` each, by SQL;
// then makes 100 rules through the API: 90 over the whole 1,000 (avg, max, min, last of `cpu_usage` over a minute,
// thresholds the load never crosses) and 10 probe rules, each over its own few probe agents (`last > 90`).
//
// Evaluation: every rule is made due at once, and the time until all 100 are evaluated and committed is taken
// (three rounds): rules evaluated per second, and (agent, rule) pairs per second. It includes the evaluator's
// poll (up to 250 ms) before it starts.
//
// Sample to alert: while the 1,000 agents report `cpu_usage` over HTTP every REPORT_EVERY_MS (open loop, values
// 20–60, so every report nudges the 90 fleet rules), a probe agent reports 99; the delay is from sending that
// report to the firing alert answered by GET /api/v1/alerts (polled every POLL_MS), once per probe agent
// (PROBES of them). The server's ALERT_EVALUATION_INTERVAL_MS is its default (10 s): a delay well under it is the
// nudge's doing.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sha256 } from '../../server/auth/secrets.ts';
import { log } from './log.ts';

export const ALERT_BENCH_AGENTS = 1_000;
const FLEET_RULES = 90;
const PROBE_RULES = 10;
/** Probe agents per probe rule: each is probed once. */
const PROBES_PER_RULE = 3;
const ROUNDS = 3;
const REPORT_EVERY_MS = 10_000;
const POLL_MS = 25;
/** The issue's bound: a crossing sample fires within about 2 s. */
const TARGET_MS = 2_000;

export interface AlertRulesReport {
  agents: number;
  rules: number;
  /** All rules made due at once, until the last one's evaluation committed; one figure per round. */
  evaluation_ms: number[];
  rules_per_s: number;
  agent_rule_pairs_per_s: number;
  /** Background reports/s of the 1,000 agents during the probes, and how many failed. */
  background_reports_per_s: number;
  background_failed: number;
  /** From sending a crossing sample over HTTP to its firing alert in GET /api/v1/alerts. */
  probes: number;
  sample_to_alert_ms: number[];
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  target_ms: number;
  met: boolean;
}

interface Seeded {
  tag: string;
  agents: { id: string; key: string }[];
}

/** 1,000 online agents of the team with their keys and one quiet sample each, by SQL. */
async function seed(client: pg.Client, teamId: string): Promise<Seeded> {
  const run = randomBytes(4).toString('hex');
  const tag = `alert-bench-${run}`;
  const agents = Array.from({ length: ALERT_BENCH_AGENTS }, (_, n) => {
    const prefix = `oak_${randomBytes(6).toString('hex').slice(0, 8)}`;
    return { n, id: crypto.randomUUID(), prefix, key: `${prefix}_${randomBytes(24).toString('base64url')}` };
  });
  await client.query('begin');
  await client.query(
    `insert into agents (id, team_id, hostname, ip_address, platform, status, last_seen, tags)
     select a.id, $1, 'alert-' || $2 || '-' || a.n || '.bench.example.com', '10.201.0.0'::inet + a.n, 'linux', 'online', now(), array[$3]
       from jsonb_to_recordset($4::jsonb) as a(id uuid, n int)`,
    [teamId, run, tag, JSON.stringify(agents.map(({ id, n }) => ({ id, n })))],
  );
  await client.query(
    `insert into agent_keys (id, agent_id, prefix, secret_hash) select gen_random_uuid(), k.agent_id, k.prefix, k.secret_hash
       from jsonb_to_recordset($1::jsonb) as k(agent_id uuid, prefix text, secret_hash text)`,
    [JSON.stringify(agents.map((a) => ({ agent_id: a.id, prefix: a.prefix, secret_hash: sha256(a.key) })))],
  );
  await client.query(
    `insert into agent_metrics (agent_id, name, at, value, labels) select id, 'cpu_usage', now(), 30, '{}' from agents where $1 = any(tags)`,
    [tag],
  );
  await client.query('commit');
  return { tag, agents: agents.map(({ id, key }) => ({ id, key })) };
}

/** fetch, tried once more when the connection fails (a kept-alive socket the loaded server closed meanwhile). */
async function fetchAgain(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return fetch(url, init);
  }
}

async function api(url: string, headers: Record<string, string>, method: string, path: string, body?: unknown): Promise<{ status: number; json: { data?: unknown } }> {
  const response = await fetchAgain(`${url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json().catch(() => ({}))) as { data?: unknown } };
}

const reportCpu = (url: string, key: string, value: number) =>
  fetchAgain(`${url}/api/v1/agent/metrics`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ samples: [{ name: 'cpu_usage', at: new Date().toISOString(), value }] }),
  }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export async function measureAlertRules(o: { url: string; headers: Record<string, string>; databaseUrl: string; teamId: string }): Promise<AlertRulesReport> {
  const client = new pg.Client({ connectionString: o.databaseUrl });
  await client.connect();
  let stopLoad = () => {};
  try {
    const { tag, agents } = await seed(client, o.teamId);
    // Each probe rule watches its own few agents (tagged by SQL, so they are not part of the fleet rules' load).
    const probeAgents = agents.slice(0, PROBE_RULES * PROBES_PER_RULE);
    const fleet = agents.slice(probeAgents.length);
    await client.query(`update agents set tags = array[p.tag] from jsonb_to_recordset($1::jsonb) as p(id uuid, tag text) where agents.id = p.id`, [
      JSON.stringify(probeAgents.map((a, i) => ({ id: a.id, tag: `${tag}-probe-${Math.floor(i / PROBES_PER_RULE)}` }))),
    ]);
    log.info('seeded the alert rules agents', { agents: agents.length, probe_agents: probeAgents.length, tag });

    const ruleIds: string[] = [];
    const aggregations = ['avg', 'max', 'min', 'last'] as const;
    for (let i = 0; i < FLEET_RULES + PROBE_RULES; i++) {
      const probe = i >= FLEET_RULES;
      const body = probe
        ? { name: `probe ${i - FLEET_RULES}`, metric: 'cpu_usage', scope: { tags: [`${tag}-probe-${i - FLEET_RULES}`] }, condition: { aggregation: 'last', window_seconds: 60, operator: '>', threshold: 90 }, for_seconds: 0, severity: 'critical' }
        : { name: `fleet ${i}`, metric: 'cpu_usage', scope: { tags: [tag] }, condition: { aggregation: aggregations[i % 4], window_seconds: 60, operator: '>', threshold: 95 }, for_seconds: 0, severity: 'warning' };
      const created = await api(o.url, o.headers, 'POST', '/api/v1/metrics/alerts/rules', body);
      const id = (created.json.data as { id?: string } | undefined)?.id;
      if (created.status !== 201 || !id) throw new Error(`Opsdeck: POST /api/v1/metrics/alerts/rules answered ${created.status}: ${JSON.stringify(created.json).slice(0, 500)}`);
      ruleIds.push(id);
    }
    const probeRuleIds = ruleIds.slice(FLEET_RULES);
    log.info('made the alert rules', { rules: ruleIds.length });

    // Evaluation rate: all 100 rules due at once; done when none is still due and no evaluation holds one.
    const evaluationMs: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await client.query(`update alert_rules set next_evaluation_at = now() - interval '1 second', full_evaluation_at = now() - interval '1 second' where id = any($1::uuid[])`, [ruleIds]);
      const started = performance.now();
      for (;;) {
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from alert_rules where id = any($1::uuid[]) and next_evaluation_at <= now()`, [ruleIds]);
        if (rows[0]!.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // The last claimed rules may still be under evaluation: waiting for their locks waits for their commits.
      await client.query('begin');
      await client.query(`select id from alert_rules where id = any($1::uuid[]) for update`, [ruleIds]);
      await client.query('rollback');
      const ms = Math.round(performance.now() - started);
      evaluationMs.push(ms);
      log.info('evaluated every alert rule', { round, rules: ruleIds.length, ms });
    }
    const bestMs = Math.min(...evaluationMs);

    // Background: the fleet reports quiet values, open loop, spread over the interval.
    let sent = 0;
    let failed = 0;
    const loadStarted = performance.now();
    const timers = fleet.map((agent, i) => {
      const tick = () => {
        sent += 1;
        reportCpu(o.url, agent.key, 20 + Math.round(Math.random() * 40)).then(
          (status) => void (status >= 300 && (failed += 1)),
          () => void (failed += 1),
        );
      };
      const first = setTimeout(() => {
        tick();
        timers[i] = setInterval(tick, REPORT_EVERY_MS);
      }, Math.round((i / fleet.length) * REPORT_EVERY_MS));
      return first as NodeJS.Timeout;
    });
    stopLoad = () => timers.forEach((timer) => { clearTimeout(timer); clearInterval(timer); });
    await new Promise((resolve) => setTimeout(resolve, REPORT_EVERY_MS));

    const delays: number[] = [];
    for (let k = 0; k < PROBES_PER_RULE; k++) {
      for (let r = 0; r < PROBE_RULES; r++) {
        const agent = probeAgents[r * PROBES_PER_RULE + k]!;
        const sentAt = performance.now();
        const status = await reportCpu(o.url, agent.key, 99);
        if (status !== 204) throw new Error(`Opsdeck: POST /api/v1/agent/metrics answered ${status}`);
        for (;;) {
          const alerts = await api(o.url, o.headers, 'GET', `/api/v1/alerts?agent_id=${agent.id}&limit=10`);
          const found = (alerts.json.data as { rule_id: string | null }[] | undefined)?.some((a) => a.rule_id === probeRuleIds[r]);
          if (found) break;
          if (performance.now() - sentAt > 30_000) throw new Error(`Opsdeck: no alert 30 s after a crossing sample (rule ${probeRuleIds[r]})`);
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
        const ms = Math.round(performance.now() - sentAt);
        delays.push(ms);
        log.info('a crossing sample fired its alert', { probe: delays.length, ms });
      }
    }
    const loadS = (performance.now() - loadStarted) / 1000;
    stopLoad();
    const sorted = [...delays].sort((a, b) => a - b);
    const p99 = percentile(sorted, 99);
    return {
      agents: ALERT_BENCH_AGENTS,
      rules: ruleIds.length,
      evaluation_ms: evaluationMs,
      rules_per_s: Math.round((ruleIds.length / bestMs) * 1000),
      agent_rule_pairs_per_s: Math.round(((FLEET_RULES * fleet.length + PROBE_RULES * PROBES_PER_RULE) / bestMs) * 1000),
      background_reports_per_s: Math.round(sent / loadS),
      background_failed: failed,
      probes: delays.length,
      sample_to_alert_ms: delays,
      p50_ms: percentile(sorted, 50),
      p99_ms: p99,
      max_ms: sorted.at(-1)!,
      target_ms: TARGET_MS,
      met: p99 < TARGET_MS,
    };
  } finally {
    stopLoad();
    await client.end();
  }
}

export function alertRulesLines(a: AlertRulesReport): string[] {
  return [
    `Alert rules (${a.agents.toLocaleString('en-US')} agents, ${a.rules} rules):`,
    `  evaluation: all ${a.rules} rules due at once, done in ${a.evaluation_ms.map((ms) => `${ms} ms`).join(', ')}: ${a.rules_per_s} rules/s, ${a.agent_rule_pairs_per_s.toLocaleString('en-US')} (agent, rule) pairs/s`,
    `  sample to alert over HTTP (${a.probes} probes, ${a.background_reports_per_s} background reports/s${a.background_failed > 0 ? `, ${a.background_failed} failed` : ''}): p50 ${a.p50_ms} ms, p99 ${a.p99_ms} ms, max ${a.max_ms} ms (target < ${a.target_ms} ms: ${a.met ? 'met' : 'NOT met'})`,
  ];
}
