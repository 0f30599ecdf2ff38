// What agents report about themselves, in explicit columns. A report replaces an agent's packages and
// services in one transaction (bulk inserts from one JSON parameter, so 10,000 packages are one statement);
// metric samples are upserted by (agent, metric, time). Reads are scoped by joining the agent's team.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { components } from '../../../generated/openapi.d.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';

type Schemas = components['schemas'];

export const PACKAGE_SORT = ['name'] as const;
export const FLEET_PACKAGE_SORT = ['name', 'hostname'] as const;
export const UPDATE_SORT = ['agents', 'name'] as const;
export const SERVICE_SORT = ['name', 'state'] as const;

/** Numeric parts of a version, as the generated `version_key` column holds them for stored versions. */
const versionKey = (version: string) => sql`array_remove(regexp_split_to_array(${version}::text, '[^0-9]+'), '')::numeric[]`;

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

const inTeams = (teamIds: readonly string[]) => (teamIds.length > 0 ? sql<boolean>`a.team_id in (${sql.join(teamIds)})` : sql<boolean>`false`);

// ---- writes

export { touchAgent } from '../agent-protocol/agent-protocol.repository.ts';

export interface PackageInsert {
  id: string;
  name: string;
  version: string;
  available_version: string | null;
  architecture: string;
  /** '' when neither the agent nor its operating system says. */
  ecosystem: string;
}

export async function replacePackages(db: Executor, agentId: string, packages: readonly PackageInsert[]): Promise<void> {
  await db.deleteFrom('agent_packages').where('agent_id', '=', agentId).execute();
  if (packages.length === 0) return;
  await sql`
    insert into agent_packages (id, agent_id, name, version, available_version, architecture, ecosystem)
    select p.id, ${agentId}::uuid, p.name, p.version, p.available_version, p.architecture, p.ecosystem
      from jsonb_to_recordset(${JSON.stringify(packages)}::jsonb)
        as p(id uuid, name varchar(200), version varchar(100), available_version varchar(100), architecture varchar(32), ecosystem varchar(64))`.execute(db);
}

export interface ServiceInsert {
  id: string;
  name: string;
  state: Schemas['SystemServiceState'];
  enabled: boolean;
}

export async function replaceServices(db: Executor, agentId: string, services: readonly ServiceInsert[]): Promise<void> {
  await db.deleteFrom('agent_services').where('agent_id', '=', agentId).execute();
  if (services.length === 0) return;
  await sql`
    insert into agent_services (id, agent_id, name, state, enabled)
    select s.id, ${agentId}::uuid, s.name, s.state, s.enabled
      from jsonb_to_recordset(${JSON.stringify(services)}::jsonb) as s(id uuid, name varchar(200), state varchar(16), enabled boolean)`.execute(db);
}

export async function upsertHardware(db: Executor, agentId: string, hardware: Schemas['HardwareReport']): Promise<Date> {
  const facts = {
    cpu_model: hardware.cpu_model,
    cpu_cores: hardware.cpu_cores,
    memory_bytes: hardware.memory_bytes,
    disk_bytes: hardware.disk_bytes,
    architecture: hardware.architecture ?? null,
    virtualization: hardware.virtualization ?? null,
    manufacturer: hardware.manufacturer ?? null,
    model: hardware.model ?? null,
  };
  const row = await db
    .insertInto('agent_hardware')
    .values({ agent_id: agentId, ...facts })
    .onConflict((oc) => oc.column('agent_id').doUpdateSet({ ...facts, reported_at: sql`now()` }))
    .returning('reported_at')
    .executeTakeFirstOrThrow();
  return row.reported_at;
}

export async function countUpdates(db: Executor, agentId: string): Promise<number> {
  return (
    await db
      .selectFrom('agent_packages')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('agent_id', '=', agentId)
      .where('available_version', 'is not', null)
      .executeTakeFirstOrThrow()
  ).n;
}

export interface SampleInsert {
  name: Schemas['MetricName'];
  at: string;
  value: number;
  /** Keys in order (see `labelsKey`), `{}` when none. */
  labels: Schemas['MetricLabels'];
}

/** A sample's labels with their keys in order, and as text: the same labels in any order are the same series. */
export function canonicalLabels(labels: Schemas['MetricLabels'] | undefined): { labels: Schemas['MetricLabels']; key: string } {
  const sorted = Object.fromEntries(Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { labels: sorted, key: JSON.stringify(sorted) };
}

/** One agent's report: no repeated (name, at, labels). */
export interface AgentSamples {
  agentId: string;
  samples: readonly SampleInsert[];
}

/** The hours of the rollups (agent_metric_rollups), aligned to the epoch like every bucket. */
const HOUR = sql`date_bin('1 hour', s.at, timestamptz '1970-01-01T00:00:00Z')`;

/**
 * Stores the samples of many reports in one statement; a sample of a metric and labels at a time already stored
 * is replaced, and of two reports in one batch with the same sample, the later wins (as if written one after the
 * other). Samples of agents that do not exist are left out (their reports are refused by the caller). The same
 * statement appends a rollup mark for each metric and hour it writes to (a few rows): the rollup worker
 * recomputes those hours, and until it has, queries read them from the samples.
 */
export async function upsertSamplesOfAgents(db: Executor, reports: readonly AgentSamples[]): Promise<TeamMetric[]> {
  const rows = new Map<string, { agent_id: string } & SampleInsert>();
  for (const { agentId, samples } of reports) for (const s of samples) rows.set(`${agentId} ${s.name} ${s.at} ${JSON.stringify(s.labels)}`, { agent_id: agentId, ...s });
  const { rows: written } = await sql<TeamMetric>`
    with s as materialized (
      select s.agent_id, a.team_id, s.name, s.at, s.value, s.labels
        from jsonb_to_recordset(${JSON.stringify([...rows.values()])}::jsonb)
          as s(agent_id uuid, name varchar(100), at timestamptz(3), value double precision, labels jsonb)
        join agents a on a.id = s.agent_id
    ), marked as (
      insert into agent_metric_rollup_marks (name, bucket) select distinct s.name, ${HOUR} from s
    ), stored as (
      insert into agent_metrics (agent_id, name, at, value, labels)
      select s.agent_id, s.name, s.at, s.value, s.labels from s
      on conflict (agent_id, name, at, labels) do update set value = excluded.value
    )
    select s.team_id, s.name, min(s.at) as since from s group by s.team_id, s.name`.execute(db);
  return written;
}

/** A metric some agent of a team has just reported (what alert rules are nudged by). */
export interface TeamMetric {
  team_id: string;
  name: string;
  /** The oldest of the samples' times. */
  since: Date;
}

const PRUNE_BATCH = 10_000;

/**
 * Deletes samples taken before `cutoff`, a batch at a time (short locks), and the rollups of the hours before
 * it; the hour it cuts through is marked, so its rollup is recomputed from the samples left. Answers how many
 * samples were deleted.
 */
export async function deleteSamplesBefore(db: Executor, cutoff: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const { numAffectedRows } = await sql`
      delete from agent_metrics where ctid in (select ctid from agent_metrics where at < ${cutoff} limit ${PRUNE_BATCH})`.execute(db);
    const deleted = Number(numAffectedRows ?? 0);
    total += deleted;
    if (deleted < PRUNE_BATCH) break;
  }
  const hour = sql`date_bin('1 hour', ${cutoff}::timestamptz, timestamptz '1970-01-01T00:00:00Z')`;
  await sql`delete from agent_metric_rollups where bucket < ${hour}`.execute(db);
  await sql`insert into agent_metric_rollup_marks (name, bucket) select distinct name, bucket from agent_metric_rollups where bucket = ${hour}`.execute(db);
  return total;
}

/** Takes turns between processes: one rolls up at a time (pg_try_advisory_xact_lock). */
const ROLLUP_LOCK = 0x6d657472; // 'metr'

/**
 * Recomputes the rollups of the marked (metric, hour) pairs from the samples, in one transaction: the marks are
 * taken first, so a sample committed before that is read by the recomputation, and one committed after has left
 * a mark of its own for the next run. Answers how many pairs were recomputed (0 when another process is at it).
 */
export async function rollUpMarked(db: Kysely<Database>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { rows: locked } = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${ROLLUP_LOCK}) as ok`.execute(trx);
    if (!locked[0]?.ok) return 0;
    const { rows: taken } = await sql<{ name: string; bucket: Date }>`
      with taken as (delete from agent_metric_rollup_marks returning name, bucket)
      select distinct name, bucket from taken`.execute(trx);
    if (taken.length === 0) return 0;
    const keys = JSON.stringify(taken.map((k) => ({ name: k.name, bucket: k.bucket.toISOString() })));
    const marked = sql`jsonb_to_recordset(${keys}::jsonb) as k(name varchar(100), bucket timestamptz(3))`;
    await sql`delete from agent_metric_rollups r using ${marked} where r.name = k.name and r.bucket = k.bucket`.execute(trx);
    await sql`
      insert into agent_metric_rollups (name, bucket, agent_id, labels, samples, sum, min, max)
      select s.name, k.bucket, s.agent_id, s.labels, count(*)::int, sum(s.value), min(s.value), max(s.value)
        from ${marked}
        join agent_metrics s on s.name = k.name and s.at >= k.bucket and s.at < k.bucket + interval '1 hour'
       group by s.name, k.bucket, s.agent_id, s.labels`.execute(trx);
    return taken.length;
  });
}

// ---- reads of one agent (the service has checked the agent is the caller's)

export interface PackageFilter {
  agentId: string;
  name?: string | undefined;
  search?: string | undefined;
  versionGt?: string | undefined;
  versionLt?: string | undefined;
  hasUpdate?: boolean | undefined;
}

const packageColumns = ['p.id', 'p.name', 'p.version', 'p.available_version', 'p.architecture'] as const;

function agentPackages(db: Executor, filter: PackageFilter) {
  let query = db.selectFrom('agent_packages as p').where('p.agent_id', '=', filter.agentId);
  if (filter.name) query = query.where('p.name', '=', filter.name);
  if (filter.search) query = query.where('p.name', 'ilike', `%${escapeLike(filter.search)}%`);
  if (filter.versionGt) query = query.where(sql<boolean>`p.version_key > ${versionKey(filter.versionGt)}`);
  if (filter.versionLt) query = query.where(sql<boolean>`p.version_key < ${versionKey(filter.versionLt)}`);
  if (filter.hasUpdate !== undefined) query = query.where('p.available_version', filter.hasUpdate ? 'is not' : 'is', null);
  return query;
}

const packageSort = (field: (typeof PACKAGE_SORT)[number] | 'id'): RawBuilder<unknown> => sql.ref(`p.${field}`);

export const listPackages = (db: Executor, filter: PackageFilter, keys: SortKey<(typeof PACKAGE_SORT)[number]>[], window: Window) =>
  pageOf(agentPackages(db, filter).select(packageColumns), keys, window, packageSort).execute();
export type PackageRow = Awaited<ReturnType<typeof listPackages>>[number];

export async function countPackages(db: Executor, filter: PackageFilter): Promise<number> {
  return (await agentPackages(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export interface ServiceFilter {
  agentId: string;
  state?: Schemas['SystemServiceState'] | undefined;
}

function agentServices(db: Executor, filter: ServiceFilter) {
  let query = db.selectFrom('agent_services').where('agent_id', '=', filter.agentId);
  if (filter.state) query = query.where('state', '=', filter.state);
  return query;
}

export const listServices = (db: Executor, filter: ServiceFilter, keys: SortKey<(typeof SERVICE_SORT)[number]>[], window: Window) =>
  pageOf(agentServices(db, filter).select(['id', 'name', 'state', 'enabled']), keys, window, (field) => sql.ref(field)).execute();
export type ServiceRow = Awaited<ReturnType<typeof listServices>>[number];

export async function countServices(db: Executor, filter: ServiceFilter): Promise<number> {
  return (await agentServices(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findHardware = (db: Executor, agentId: string) =>
  db
    .selectFrom('agent_hardware')
    .select([
      'agent_id',
      'cpu_model',
      'cpu_cores',
      // bigint arrives as a string from node-postgres; float8 is exact below 2^53, the contract's maximum.
      sql<number>`memory_bytes::float8`.as('memory_bytes'),
      sql<number>`disk_bytes::float8`.as('disk_bytes'),
      'architecture',
      'virtualization',
      'manufacturer',
      'model',
      'reported_at',
    ])
    .where('agent_id', '=', agentId)
    .executeTakeFirst();
export type HardwareRow = NonNullable<Awaited<ReturnType<typeof findHardware>>>;

export const BUCKETS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '1d': 86400 } as const satisfies Record<Schemas['MetricBucket'], number>;
const AGGREGATES = { avg: 'avg', min: 'min', max: 'max', sum: 'sum' } as const satisfies Record<Schemas['MetricAggregate'], string>;

export interface SeriesQuery {
  agentId: string;
  name: Schemas['MetricName'];
  start: Date;
  end: Date;
  bucket: Schemas['MetricBucket'];
  aggregate: Schemas['MetricAggregate'];
}

/** Samples in [start, end) aggregated into buckets aligned to the UTC clock; empty buckets are left out. */
export async function series(db: Executor, q: SeriesQuery): Promise<{ at: Date; value: number; samples: number }[]> {
  const width = sql.lit(`${BUCKETS[q.bucket]} seconds`);
  const aggregate = sql.raw(AGGREGATES[q.aggregate]);
  const { rows } = await sql<{ at: Date; value: number; samples: number }>`
    select date_bin(${width}::interval, at, timestamptz '1970-01-01T00:00:00Z') as at,
           ${aggregate}(value)::float8 as value,
           count(*)::int as samples
      from agent_metrics
     where agent_id = ${q.agentId} and name = ${q.name} and at >= ${q.start} and at < ${q.end}
     group by 1
     order by 1`.execute(db);
  return rows;
}

// ---- fleet-wide reads, scoped to the caller's teams

export interface FleetFilter {
  teamIds: readonly string[];
  teamId?: string | undefined;
  name?: string | undefined;
  search?: string | undefined;
  versionGt?: string | undefined;
  versionLt?: string | undefined;
  hasUpdate?: boolean | undefined;
}

function fleetPackages(db: Executor, filter: FleetFilter) {
  let query = db.selectFrom('agent_packages as p').innerJoin('agents as a', 'a.id', 'p.agent_id').where(inTeams(filter.teamIds));
  if (filter.teamId) query = query.where('a.team_id', '=', filter.teamId);
  if (filter.name) query = query.where('p.name', '=', filter.name);
  if (filter.search) query = query.where('p.name', 'ilike', `%${escapeLike(filter.search)}%`);
  if (filter.versionGt) query = query.where(sql<boolean>`p.version_key > ${versionKey(filter.versionGt)}`);
  if (filter.versionLt) query = query.where(sql<boolean>`p.version_key < ${versionKey(filter.versionLt)}`);
  if (filter.hasUpdate !== undefined) query = query.where('p.available_version', filter.hasUpdate ? 'is not' : 'is', null);
  return query;
}

const fleetSort = (field: (typeof FLEET_PACKAGE_SORT)[number] | 'id'): RawBuilder<unknown> => sql.ref(field === 'hostname' ? 'a.hostname' : `p.${field}`);

export const searchPackages = (db: Executor, filter: FleetFilter, keys: SortKey<(typeof FLEET_PACKAGE_SORT)[number]>[], window: Window) =>
  pageOf(
    fleetPackages(db, filter).select(['p.id', 'p.agent_id', 'a.hostname', 'a.team_id', 'p.name', 'p.version', 'p.available_version', 'p.architecture']),
    keys,
    window,
    fleetSort,
  ).execute();
export type FleetPackageRow = Awaited<ReturnType<typeof searchPackages>>[number];

export async function countFleetPackages(db: Executor, filter: FleetFilter): Promise<number> {
  return (await fleetPackages(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export type UpdateFilter = Pick<FleetFilter, 'teamIds' | 'teamId' | 'name' | 'search'>;

/** One row per (name, version, available_version) with an update, and how many agents have it. */
function updates(db: Executor, filter: UpdateFilter) {
  const grouped = fleetPackages(db, filter)
    .where('p.available_version', 'is not', null)
    .select([
      'p.name',
      'p.version',
      sql<string>`p.available_version`.as('available_version'),
      sql<number>`count(distinct p.agent_id)::int`.as('agents'),
      // A stable key of the group, the tie-breaker of the order and of cursors.
      sql<string>`json_build_array(p.name, p.version, p.available_version)::text`.as('id'),
    ])
    .groupBy(['p.name', 'p.version', 'p.available_version']);
  return db.selectFrom(grouped.as('u'));
}

export const listUpdates = (db: Executor, filter: UpdateFilter, keys: SortKey<(typeof UPDATE_SORT)[number]>[], window: Window) =>
  pageOf(updates(db, filter).select(['u.id', 'u.name', 'u.version', 'u.available_version', 'u.agents']), keys, window, (field) => sql.ref(`u.${field}`)).execute();
export type UpdateRow = Awaited<ReturnType<typeof listUpdates>>[number];

export async function countUpdateGroups(db: Executor, filter: UpdateFilter): Promise<number> {
  return (await updates(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}
