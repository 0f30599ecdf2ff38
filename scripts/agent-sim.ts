// `npm run agent:sim -- --agents 100000`: a fleet simulated from one process (scripts/sim/fleet.ts). It enrols
// the agents (signing in as an operator to make enrollment tokens for its team, one per 2,000 agents (the burst of a token's enrolment limit), unless
// tokens are given), then each agent heartbeats, claims tasks and reports metrics at its interval, spread
// evenly, over a shared pool of connections, until --duration or Ctrl-C. A progress line goes to stderr every
// 2 s; the summary (per activity: sent, acknowledged, errors, p50/p99) is the one JSON line on stdout.
//   --url http://127.0.0.1:8080  --agents 1000  --token oet_…[,oet_…]  --email operator@opsdeck.local
//   --password opsdeck-demo-password  --team <team id>  --connections 50  --enrol-concurrency 32
//   --heartbeat-s 30  --claim-s 30  --metrics-s 300 (0: not at all)  --points 40 (samples per metric per report)
//   --duration <s> (default: until Ctrl-C)  --prefix sim
//   --inventory true|false (default true): each agent reports a small inventory once, after enrolling (Ubuntu and
//   Debian hosts, openssl, libc6, an npm and a PyPI package, half of them a patch behind), for imported advisories to match
//   --save-agents <file>: writes the enrolled agents' ids and keys there (JSON); --agents-file <file>: drives those
//   agents instead of enrolling new ones (enrol a large fleet once, drive it many times).
//   --busy-agents N (default 0): the first N agents report a busy CPU (`cpu_usage` 92–99 %), to fire CPU alert rules
//   --execute: run each claimed task (a progress report, then `succeeded`), as hosts do; the summary's `report`
//   counts the reports and the tasks run (`executed`). Without it, claimed tasks are left running.
//   --mtls: each agent makes a key pair and a CSR, enrols with it (its certificate from the Opsdeck CA), and then
//   heartbeats over mutual TLS on the server's TLS listener (--tls-url https://127.0.0.1:8443, trusting --tls-ca <PEM
//   file> for the listener's own certificate), presenting its certificate instead of its key; at most 1,000 agents.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createOpsdeckClient, unwrap } from '@opsdeck/sdk';
import { createAgentKeyMaterial, mutualTlsFetch } from '@opsdeck/sdk/certificates';
import { driveFleet, enrolFleet, FleetClient, newTally, reportInventories, summarise, type Activity, type EnrolledAgent, type Tally } from './sim/fleet.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    agents: { type: 'string', default: '1000' },
    token: { type: 'string' },
    email: { type: 'string', default: 'operator@opsdeck.local' },
    password: { type: 'string', default: 'opsdeck-demo-password' },
    team: { type: 'string' },
    connections: { type: 'string', default: '50' },
    'enrol-concurrency': { type: 'string', default: '32' },
    'heartbeat-s': { type: 'string', default: '30' },
    'claim-s': { type: 'string', default: '30' },
    'metrics-s': { type: 'string', default: '300' },
    points: { type: 'string', default: '40' },
    duration: { type: 'string' },
    prefix: { type: 'string', default: `sim-${Date.now().toString(36)}` },
    inventory: { type: 'string', default: 'true' },
    'save-agents': { type: 'string' },
    'agents-file': { type: 'string' },
    execute: { type: 'boolean', default: false },
    'busy-agents': { type: 'string', default: '0' },
    mtls: { type: 'boolean', default: false },
    'tls-url': { type: 'string', default: 'https://127.0.0.1:8443' },
    'tls-ca': { type: 'string' },
  },
});

const log = (msg: string, extra: Record<string, unknown> = {}) => process.stderr.write(`${JSON.stringify({ level: 'info', msg, ...extra })}\n`);
function positive(name: keyof typeof values, max: number, allowZero = false): number {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < (allowZero ? 0 : 1) || n > max) throw new Error(`--${name} must be ${allowZero ? 0 : 1} to ${max}`);
  return n;
}
const count = positive('agents', 1_000_000);
/** Agents per enrollment token: within the burst of the token's enrolment limit (x-rate-limits `enrollment`). */
const TOKEN_AGENTS = 2_000;

async function enrollmentTokens(): Promise<string[]> {
  if (values.token) return values.token.split(',');
  const operator = createOpsdeckClient({ baseUrl: values.url! });
  await operator.login(values.email!, values.password!);
  const teamId = values.team ?? (await unwrap(operator.GET('/api/v1/teams')))[0]?.id;
  if (!teamId) throw new Error(`${values.email} belongs to no team; pass --team`);
  const tokens = [];
  for (let made = 0; made < count; made += TOKEN_AGENTS) {
    const body = { name: `agent:sim ${values.prefix}`, max_uses: Math.min(TOKEN_AGENTS, count - made), expires_in_hours: 24 };
    tokens.push((await unwrap(operator.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: { team_id: teamId } }, body }))).secret);
  }
  log('enrollment tokens made', { team_id: teamId, tokens: tokens.length });
  return tokens;
}

/** `--mtls`: agents enrolled with CSRs, heartbeating over mutual TLS with their certificates (through the SDK). */
async function mutualTlsFleet(): Promise<void> {
  const agents = Math.min(count, 1000);
  const [token] = await enrollmentTokens();
  const ca = values['tls-ca'] ? readFileSync(values['tls-ca'], 'utf8') : undefined;
  const anonymous = createOpsdeckClient({ baseUrl: values.url!, retries: false });
  const fleet = [];
  for (let i = 0; i < agents; i++) {
    const material = await createAgentKeyMaterial();
    const body = { enrollment_token: token!, hostname: `${values.prefix}-mtls-${i}.sim.example.com`, ip_address: `10.250.${(i >> 8) & 255}.${i & 255}`, platform: 'linux' as const, csr: material.csr };
    const enrolled = await unwrap(anonymous.POST('/api/v1/agent/enroll', { body }));
    const fetch = mutualTlsFetch({ cert: enrolled.certificate!.pem, key: material.privateKeyPem, ...(ca ? { ca } : {}) });
    fleet.push({ id: enrolled.agent.id, client: createOpsdeckClient({ baseUrl: values['tls-url']!, retries: false, fetch }) });
  }
  log(`${fleet.length} agents enrolled with certificates; heartbeating over mutual TLS (Ctrl-C stops)`, { tls_url: values['tls-url'] });
  const tally = { sent: 0, acknowledged: 0, errors: 0 };
  const ends = values.duration ? Date.now() + positive('duration', 31 * 86_400) * 1000 : Number.POSITIVE_INFINITY;
  let stopped = false;
  process.once('SIGINT', () => (stopped = true));
  while (!stopped && Date.now() < ends) {
    await Promise.all(
      fleet.map(async (agent) => {
        tally.sent += 1;
        const beat = await agent.client.POST('/api/v1/agent/heartbeat').catch(() => undefined);
        if (beat?.data?.data.agent_id === agent.id) tally.acknowledged += 1;
        else tally.errors += 1;
      }),
    );
    log('progress', tally);
    await new Promise((resolve) => setTimeout(resolve, positive('heartbeat-s', 86_400) * 1000));
  }
  process.stdout.write(`${JSON.stringify({ agents: fleet.length, mtls: true, heartbeat: tally })}\n`);
}
if (values.mtls) {
  await mutualTlsFleet();
  process.exit(0);
}

const line = (what: string, t: Tally) => `${what} ${t.acknowledged}/${t.sent}${t.errors ? ` (${t.errors} errors)` : ''}`;
const client = new FleetClient(values.url!, positive('connections', 10_000));
let interrupt: () => void = () => {};
const stop = new Promise<void>((resolve) => (interrupt = resolve));
process.once('SIGINT', () => interrupt());
process.once('SIGTERM', () => interrupt());

const enrolled = values['agents-file']
  ? { agents: (JSON.parse(readFileSync(values['agents-file'], 'utf8')) as EnrolledAgent[]).slice(0, count), tally: newTally(), seconds: 0 }
  : await enrolFleet({
      client,
      tokens: await enrollmentTokens(),
      count,
      concurrency: positive('enrol-concurrency', 1000),
      prefix: values.prefix!,
      onProgress: (done, t) => log('enrolling', { enrolled: done, of: count, errors: t.errors }),
    });
if (values['save-agents']) writeFileSync(values['save-agents'], JSON.stringify(enrolled.agents), { mode: 0o600 });
const inventory = values.inventory === 'false' ? undefined : await reportInventories(client, enrolled.agents, positive('enrol-concurrency', 1000));
if (inventory) log('inventories reported', { reported: inventory.acknowledged, errors: inventory.errors });
log(`${enrolled.agents.length} agents ${values['agents-file'] ? 'read' : `enrolled in ${enrolled.seconds.toFixed(1)} s`}; heartbeating, claiming and reporting (Ctrl-C stops)`, { errors: enrolled.tally.errors });

const intervals: Partial<Record<Activity, { intervalS: number; points?: number }>> = {};
for (const [activity, option] of [['heartbeat', 'heartbeat-s'], ['claim', 'claim-s'], ['metrics', 'metrics-s']] as const) {
  const intervalS = positive(option, 86_400, true);
  if (intervalS > 0) intervals[activity] = { intervalS, ...(activity === 'metrics' ? { points: positive('points', 250) } : {}) };
}

const tallies = await driveFleet({
  client,
  agents: enrolled.agents,
  activities: intervals,
  durationS: values.duration ? positive('duration', 31 * 86_400) : Number.POSITIVE_INFINITY,
  stop,
  execute: values.execute!,
  busyAgents: positive('busy-agents', 1_000_000, true),
  onProgress: (elapsed, t) => {
    const text = `${elapsed.toFixed(0)} s · ${line('heartbeats', t.heartbeat)} · ${line('claims', t.claim)} · ${line('metric reports', t.metrics)} · p99 ${summarise(t.heartbeat).latency_p99_ms} ms`;
    if (process.stderr.isTTY) process.stderr.write(`\r${text}   `);
    else log('progress', { elapsed_s: Math.round(elapsed), heartbeats: t.heartbeat.acknowledged, claims: t.claim.acknowledged, metric_reports: t.metrics.acknowledged, errors: t.heartbeat.errors + t.claim.errors + t.metrics.errors });
  },
});
if (process.stderr.isTTY) process.stderr.write('\n');
client.close();
process.stdout.write(
  `${JSON.stringify({
    agents: enrolled.agents.length,
    enrol: { ...summarise(enrolled.tally), seconds: Math.round(enrolled.seconds * 10) / 10 },
    ...(inventory ? { inventory: summarise(inventory) } : {}),
    heartbeat: summarise(tallies.heartbeat),
    claim: summarise(tallies.claim),
    metrics: summarise(tallies.metrics),
    ...(values.execute ? { report: summarise(tallies.report) } : {}),
    simulator_event_loop_lag: tallies.simulatorLag,
  })}\n`,
);
