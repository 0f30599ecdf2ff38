// Advisories, their affected packages, and the stored matches of installed packages, in explicit columns.
// Candidates for matching are found in SQL (same name, matching ecosystem: an indexed join on the name); whether
// a candidate's version is affected is decided by the service, in each ecosystem's version order.
import { sql, type RawBuilder } from 'kysely';
import type { components } from '../../../generated/openapi.d.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';

type Schemas = components['schemas'];

export const VULNERABILITY_SORT = ['severity', 'hostname', 'name', 'advisory_id'] as const;
export type VulnerabilitySortField = (typeof VULNERABILITY_SORT)[number];

/**
 * pg_advisory_xact_lock key of matching ("opsdeck vulns" in ASCII). An inventory report takes it shared, an
 * import exclusively, so an import's matching reads every report committed before it, and a report that
 * commits after an import began matches against that import's advisories: no new package and no new advisory
 * is ever left unmatched.
 */
const MATCHING_LOCK = 0x6f707376756c6e73n;

export async function lockMatchingShared(db: Executor): Promise<void> {
  await sql`select pg_advisory_xact_lock_shared(${MATCHING_LOCK})`.execute(db);
}

export async function lockMatchingExclusive(db: Executor): Promise<void> {
  await sql`select pg_advisory_xact_lock(${MATCHING_LOCK})`.execute(db);
}

// ---- advisories

export async function storedModified(db: Executor, ids: readonly string[]): Promise<Map<string, Date>> {
  const rows = await db.selectFrom('advisories').select(['id', 'modified_at']).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, r.modified_at]));
}

export interface AdvisoryWrite {
  id: string;
  aliases: string[];
  summary: string | null;
  severity: Schemas['VulnerabilitySeverity'];
  severity_rank: number;
  modified_at: string;
  published_at: string | null;
  withdrawn_at: string | null;
  document: unknown;
  packages: { ecosystem: string; name: string; ranges: unknown; versions: string[] }[];
}

/** Inserts or replaces advisories and their affected packages (the caller decided they are new or newer). */
export async function writeAdvisories(db: Executor, advisories: readonly AdvisoryWrite[]): Promise<void> {
  if (advisories.length === 0) return;
  const rows = advisories.map(({ packages: _, document, ...row }) => ({ ...row, document: JSON.stringify(document) }));
  await db
    .insertInto('advisories')
    .values(rows)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        aliases: eb.ref('excluded.aliases'),
        summary: eb.ref('excluded.summary'),
        severity: eb.ref('excluded.severity'),
        severity_rank: eb.ref('excluded.severity_rank'),
        modified_at: eb.ref('excluded.modified_at'),
        published_at: eb.ref('excluded.published_at'),
        withdrawn_at: eb.ref('excluded.withdrawn_at'),
        document: eb.ref('excluded.document'),
        updated_at: sql`now()`,
      })),
    )
    .execute();
  const ids = advisories.map((a) => a.id);
  await db.deleteFrom('advisory_packages').where('advisory_id', 'in', ids).execute();
  const packages = advisories.flatMap((a) => a.packages.map((p, position) => ({ advisory_id: a.id, position, ...p, ranges: JSON.stringify(p.ranges), versions: JSON.stringify(p.versions) })));
  // Each INSERT carries at most this many rows (PostgreSQL's 65,535 parameters, six a row).
  for (let i = 0; i < packages.length; i += 5_000) await db.insertInto('advisory_packages').values(packages.slice(i, i + 5_000)).execute();
}

// ---- matching

/** One installed package that an advisory's entry may affect (same name, matching ecosystem). */
export interface Candidate {
  package_id: string;
  agent_id: string;
  version: string;
  advisory_id: string;
  /** The advisory entry's position in `affected` and its ecosystem, whose version order applies. */
  position: number;
  advisory_ecosystem: string;
  ranges: Schemas['OsvRange'][];
  versions: string[];
}

/** Two ecosystems match when equal, or when one is the other followed by `:` and more (`Debian` and `Debian:12`). */
const ecosystemsMatch = sql<boolean>`(ap.ecosystem = p.ecosystem or starts_with(p.ecosystem, ap.ecosystem || ':') or starts_with(ap.ecosystem, p.ecosystem || ':'))`;

function candidates(db: Executor) {
  return db
    .selectFrom('agent_packages as p')
    .innerJoin('advisory_packages as ap', 'ap.name', 'p.name')
    .innerJoin('advisories as v', 'v.id', 'ap.advisory_id')
    .where('p.ecosystem', '<>', '')
    .where(ecosystemsMatch)
    .where('v.withdrawn_at', 'is', null)
    .select([
      'p.id as package_id',
      'p.agent_id',
      'p.version',
      'ap.advisory_id',
      'ap.position',
      'ap.ecosystem as advisory_ecosystem',
      sql<Schemas['OsvRange'][]>`ap.ranges`.as('ranges'),
      sql<string[]>`ap.versions`.as('versions'),
    ]);
}

export const candidatesOfAgent = (db: Executor, agentId: string): Promise<Candidate[]> => candidates(db).where('p.agent_id', '=', agentId).execute();

export const candidatesOfAdvisories = (db: Executor, advisoryIds: readonly string[]): Promise<Candidate[]> =>
  candidates(db).where('ap.advisory_id', 'in', advisoryIds).execute();

export async function deleteMatchesOfAgent(db: Executor, agentId: string): Promise<void> {
  await db.deleteFrom('package_vulnerabilities').where('agent_id', '=', agentId).execute();
}

export async function deleteMatchesOfAdvisories(db: Executor, advisoryIds: readonly string[]): Promise<void> {
  await db.deleteFrom('package_vulnerabilities').where('advisory_id', 'in', advisoryIds).execute();
}

export interface MatchInsert {
  package_id: string;
  agent_id: string;
  advisory_id: string;
  fixed_versions: string[];
}

/** Stores matches (one statement per 5,000, from one JSON parameter); a package matched twice by one advisory is stored once. */
export async function insertMatches(db: Executor, matches: readonly MatchInsert[]): Promise<void> {
  for (let i = 0; i < matches.length; i += 5_000) {
    await sql`
      insert into package_vulnerabilities (package_id, agent_id, advisory_id, fixed_versions)
      select m.package_id, m.agent_id, m.advisory_id, m.fixed_versions
        from jsonb_to_recordset(${JSON.stringify(matches.slice(i, i + 5_000))}::jsonb)
          as m(package_id uuid, agent_id uuid, advisory_id varchar(128), fixed_versions varchar(100)[])
      on conflict (package_id, advisory_id) do nothing`.execute(db);
  }
}

/** Each advisory's severity as stored and how many installed packages (of every team) it affects. */
export async function advisoryOutcomes(db: Executor, advisoryIds: readonly string[]): Promise<Map<string, { severity: Schemas['VulnerabilitySeverity']; matches: number }>> {
  const rows = await db
    .selectFrom('advisories as v')
    .select(['v.id', 'v.severity', sql<number>`(select count(*)::int from package_vulnerabilities m where m.advisory_id = v.id)`.as('matches')])
    .where('v.id', 'in', advisoryIds)
    .execute();
  return new Map(rows.map((r) => [r.id, { severity: r.severity, matches: r.matches }]));
}

// ---- reads, scoped to the caller's teams

export interface VulnerabilityFilter {
  teamIds: readonly string[];
  teamId?: string | undefined;
  agentId?: string | undefined;
  severity?: Schemas['VulnerabilitySeverity'] | undefined;
  advisoryId?: string | undefined;
  name?: string | undefined;
  ecosystem?: string | undefined;
}

function matches(db: Executor, filter: VulnerabilityFilter) {
  let query = db
    .selectFrom('package_vulnerabilities as m')
    .innerJoin('agents as a', 'a.id', 'm.agent_id')
    .innerJoin('agent_packages as p', 'p.id', 'm.package_id')
    .innerJoin('advisories as v', 'v.id', 'm.advisory_id')
    .where(filter.teamIds.length > 0 ? sql<boolean>`a.team_id in (${sql.join(filter.teamIds)})` : sql<boolean>`false`);
  if (filter.teamId) query = query.where('a.team_id', '=', filter.teamId);
  if (filter.agentId) query = query.where('m.agent_id', '=', filter.agentId);
  if (filter.severity) query = query.where('v.severity', '=', filter.severity);
  if (filter.advisoryId) query = query.where((eb) => eb.or([eb('v.id', '=', filter.advisoryId!), sql<boolean>`v.aliases @> array[${filter.advisoryId}]::varchar(128)[]`]));
  if (filter.name) query = query.where('p.name', '=', filter.name);
  if (filter.ecosystem) query = query.where('p.ecosystem', '=', filter.ecosystem);
  return query;
}

const SORT_COLUMNS: Record<VulnerabilitySortField, string> = { severity: 'v.severity_rank', hostname: 'a.hostname', name: 'p.name', advisory_id: 'v.id' };
/** A match is keyed by its package and advisory: that pair, as text, is the tie-breaker of the order and of cursors. */
const matchId = sql<string>`m.package_id::text || ' ' || m.advisory_id`;
const sortExpression = (field: VulnerabilitySortField | 'id'): RawBuilder<unknown> => (field === 'id' ? matchId : sql.ref(SORT_COLUMNS[field]));

export const listMatches = (db: Executor, filter: VulnerabilityFilter, keys: SortKey<VulnerabilitySortField>[], window: Window) =>
  pageOf(
    matches(db, filter).select([
      matchId.as('id'),
      'm.agent_id',
      'a.hostname',
      'a.team_id',
      'p.ecosystem',
      'p.name',
      'p.version',
      'p.architecture',
      'v.id as advisory_id',
      'v.aliases',
      'v.summary',
      'v.severity',
      'v.severity_rank',
      'm.fixed_versions',
      'v.published_at',
      'v.modified_at',
    ]),
    keys,
    window,
    sortExpression,
  ).execute();
export type MatchRow = Awaited<ReturnType<typeof listMatches>>[number];

export async function countMatchRows(db: Executor, filter: VulnerabilityFilter): Promise<number> {
  return (await matches(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export async function agentOsVersion(db: Executor, agentId: string): Promise<string | null> {
  return (await db.selectFrom('agents').select('os_version').where('id', '=', agentId).executeTakeFirst())?.os_version ?? null;
}
