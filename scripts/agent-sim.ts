// `npm run agent:sim -- --agents 50`: simulated hosts that use the SDK exactly as a real agent would
// (enrol, report inventory and metrics, heartbeat, claim and run tasks), with a progress line. It signs in as an operator to make an
// enrollment token for its team unless one is given.
//   --url http://127.0.0.1:8080  --agents 5  --token oet_…  --email operator@opsdeck.local
//   --password opsdeck-demo-password  --team <team id>  --heartbeat-ms 5000  --task-ms 2000  --duration <s>
import { parseArgs } from 'node:util';
import { createOpsdeckClient, unwrap } from '@opsdeck/sdk';
import { startFleet } from '../server/demo/simulated-fleet.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    agents: { type: 'string', default: '5' },
    token: { type: 'string' },
    email: { type: 'string', default: 'operator@opsdeck.local' },
    password: { type: 'string', default: 'opsdeck-demo-password' },
    team: { type: 'string' },
    'heartbeat-ms': { type: 'string', default: '5000' },
    'task-ms': { type: 'string', default: '2000' },
    duration: { type: 'string' },
  },
});

const log = (msg: string, extra: Record<string, unknown> = {}) => process.stderr.write(`${JSON.stringify({ level: 'info', msg, ...extra })}\n`);
const count = Number(values.agents);
if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new Error('--agents must be 1 to 10000');

async function enrollmentToken(): Promise<string> {
  if (values.token) return values.token;
  const operator = createOpsdeckClient({ baseUrl: values.url! });
  await operator.login(values.email!, values.password!);
  const teamId = values.team ?? (await unwrap(operator.GET('/api/v1/teams')))[0]?.id;
  if (!teamId) throw new Error(`${values.email} belongs to no team; pass --team`);
  const token = await unwrap(operator.POST('/api/v1/teams/{team_id}/enrollment-tokens', { params: { path: { team_id: teamId } }, body: { name: 'agent:sim', max_uses: count, expires_in_hours: 24 } }));
  log('enrollment token made', { team_id: teamId, prefix: token.prefix });
  return token.secret;
}

const fleet = await startFleet({
  baseUrl: values.url!,
  enrollmentToken: await enrollmentToken(),
  count,
  heartbeatMs: Number(values['heartbeat-ms']),
  taskMs: Number(values['task-ms']),
});
log(`${count} simulated agents enrolled; heartbeating and taking tasks (Ctrl-C stops)`);

const show = () => {
  const t = fleet.totals();
  const line = `agents ${t.hosts} · heartbeats ${t.heartbeats} · metric reports ${t.metrics} · tasks claimed ${t.claimed} · succeeded ${t.succeeded} · failed ${t.failed} · errors ${t.errors}`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line}   `);
  else log('progress', { ...t });
};
const ticker = setInterval(show, process.stderr.isTTY ? 500 : 5_000);
const stop = async () => {
  clearInterval(ticker);
  show();
  process.stderr.write('\n');
  await fleet.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
if (values.duration) setTimeout(stop, Number(values.duration) * 1000);
