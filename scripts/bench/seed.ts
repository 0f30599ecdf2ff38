// Seeds the agents table straight through pg: rows are generated in JS (a fixed-seed PRNG, so two runs
// hold the same fleet) and inserted with one `insert … select … from unnest(…)` per chunk, all in one
// team (made through Opsdeck's API beforehand). Ids are UUIDv7 carrying the row's own created_at, so id
// order follows time as it does for agents made by the API. An online agent was heard from within the
// minute before the seeding (Opsdeck's sweeper turns an online agent silent for its heartbeat timeout
// offline; the bench sets that timeout to a day, so the fleet keeps its statuses for the whole run).
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { log } from './log.ts';

const DAY_MS = 86_400_000;
/** How long before the seeding an online agent last sent a heartbeat, at most. */
const HEARD_FROM_MS = 60_000;
const CHUNK_ROWS = 5_000;

const PLATFORMS = [
  ['linux', 70],
  ['windows', 18],
  ['macos', 8],
  ['bsd', 4],
] as const;
const OS_VERSIONS: Record<string, readonly string[]> = {
  linux: ['Ubuntu 24.04 LTS', 'Ubuntu 22.04 LTS', 'Debian 12', 'RHEL 9.4', 'Alpine 3.20'],
  windows: ['Windows Server 2022', 'Windows Server 2019', 'Windows 11 23H2'],
  macos: ['macOS 15.1', 'macOS 14.6'],
  bsd: ['FreeBSD 14.1', 'OpenBSD 7.6'],
};
const STATUSES = [
  ['online', 75],
  ['offline', 20],
  ['maintenance', 5],
] as const;
const ROLES = ['web', 'api', 'db', 'cache', 'worker', 'edge', 'build', 'mq'];
const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-south-1'];
const TAGS = ['prod', 'staging', 'dev', 'pci', 'gpu', 'spot', 'canary', 'k8s', 'bare-metal', 'legacy'];
const AGENT_VERSIONS = ['3.2.0', '3.2.1', '3.3.0', '3.4.0-rc.1', null];

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function weighted<T>(random: () => number, choices: readonly (readonly [T, number])[]): T {
  const total = choices.reduce((sum, [, w]) => sum + w, 0);
  let roll = random() * total;
  for (const [value, weight] of choices) {
    roll -= weight;
    if (roll < 0) return value;
  }
  return choices[choices.length - 1]![0];
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

interface Columns {
  id: string[];
  hostname: string[];
  ip: string[];
  platform: string[];
  osVersion: (string | null)[];
  agentVersion: (string | null)[];
  status: string[];
  tags: string[];
  lastSeen: (string | null)[];
  createdAt: string[];
  updatedAt: string[];
}

const INSERT_SQL = `
insert into agents (id, team_id, hostname, ip_address, platform, os_version, agent_version, status, tags, last_seen, created_at, updated_at)
select id, $12::uuid, hostname, ip::inet, platform, os_version, agent_version, status, string_to_array(tags, ','), last_seen, created_at, updated_at
from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::timestamptz[], $10::timestamptz[], $11::timestamptz[])
  as t(id, hostname, ip, platform, os_version, agent_version, status, tags, last_seen, created_at, updated_at)`;

/** Rows [from, to) of the fleet; `times` holds each row's created_at (ascending). */
function generate(from: number, to: number, times: Float64Array, now: number, random: () => number): Columns {
  const cols: Columns = {
    id: [], hostname: [], ip: [], platform: [], osVersion: [], agentVersion: [],
    status: [], tags: [], lastSeen: [], createdAt: [], updatedAt: [],
  };
  for (let i = from; i < to; i++) {
    const created = times[i]!;
    const platform = weighted(random, PLATFORMS);
    const status = weighted(random, STATUSES);
    const updated = created + random() * (now - created);
    const neverSeen = random() < 0.1;
    const lastSeen =
      status === 'online'
        ? Math.max(created, now - random() * HEARD_FROM_MS)
        : neverSeen
          ? null
          : updated + random() * (now - updated);
    const tagCount = Math.floor(random() * 4);
    const tags = new Set<string>();
    for (let t = 0; t < tagCount; t++) tags.add(pick(random, TAGS));

    cols.id.push(uuidv7({ msecs: Math.floor(created) }));
    cols.hostname.push(`${pick(random, ROLES)}-${String(i + 1).padStart(7, '0')}.${pick(random, REGIONS)}.fleet.internal`);
    const n = i + 1;
    cols.ip.push(`10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
    cols.platform.push(platform);
    cols.osVersion.push(random() < 0.05 ? null : pick(random, OS_VERSIONS[platform]!));
    cols.agentVersion.push(pick(random, AGENT_VERSIONS));
    cols.status.push(status);
    cols.tags.push([...tags].join(','));
    cols.lastSeen.push(lastSeen === null ? null : new Date(lastSeen).toISOString());
    cols.createdAt.push(new Date(created).toISOString());
    cols.updatedAt.push(new Date(updated).toISOString());
  }
  return cols;
}

export interface SeedResult {
  readonly agents: number;
  readonly ms: number;
  /** Ids of seeded agents, in random order, for the getAgent run. */
  readonly sampleIds: string[];
}

export async function seedAgents(
  url: string,
  teamId: string,
  count: number,
  sampleSize = 1_000,
  onProgress?: (inserted: number, total: number) => void,
): Promise<SeedResult> {
  const started = performance.now();
  const random = prng(0x0b5dec);
  const now = Date.now();
  // created_at spread over the past 30 days, ascending so UUIDv7 order follows time.
  const times = new Float64Array(count);
  for (let i = 0; i < count; i++) times[i] = now - random() * 30 * DAY_MS;
  times.sort();

  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  const ids: string[] = [];
  try {
    let inserted = 0;
    for (let decile = 1; decile <= 10; decile++) {
      const end = Math.round((count * decile) / 10);
      while (inserted < end) {
        const to = Math.min(end, inserted + CHUNK_ROWS);
        const c = generate(inserted, to, times, now, random);
        await client.query(INSERT_SQL, [
          c.id, c.hostname, c.ip, c.platform, c.osVersion, c.agentVersion, c.status, c.tags, c.lastSeen, c.createdAt, c.updatedAt, teamId,
        ]);
        for (const id of c.id) ids.push(id);
        inserted = to;
        onProgress?.(inserted, count);
      }
      if (!onProgress) log.info('seeding agents', { inserted, total: count, percent: decile * 10 });
    }
    await client.query('analyze agents');
  } finally {
    await client.end().catch(() => {});
  }

  // A random sample (Fisher–Yates on a copy's prefix).
  const sample = ids.slice();
  const size = Math.min(sampleSize, sample.length);
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(random() * (sample.length - i));
    [sample[i], sample[j]] = [sample[j]!, sample[i]!];
  }
  return { agents: count, ms: Math.round(performance.now() - started), sampleIds: sample.slice(0, size) };
}
