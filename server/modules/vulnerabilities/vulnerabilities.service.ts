// Package vulnerabilities: administrators import OSV advisories (global); each is matched against every reported
// package of its ecosystem and name, and each inventory report is matched against every advisory. Matches are
// stored (package_vulnerabilities) when either arrives, so the lists are plain indexed reads scoped to the
// caller's teams; deciding a match needs each ecosystem's version order (version-order.ts), which SQL lacks.
import type { Kysely } from 'kysely';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { Executor } from '../../db/executor.ts';
import type { Database } from '../../db/schema.ts';
import { ApiError, notFound, type ErrorDetail } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { findAgent } from '../agents/agents.repository.ts';
import { advisoryProblems, compileEntry, osEcosystem, SEVERITY_RANK, severityOf, verdictOf, type CompiledEntry } from './osv.ts';
import { toPackageVulnerability } from './vulnerabilities.mapper.ts';
import * as repo from './vulnerabilities.repository.ts';

type Schemas = components['schemas'];
type ListQuery = NonNullable<operations['listPackageVulnerabilities']['parameters']['query']>;
type AgentListQuery = NonNullable<operations['listAgentVulnerabilities']['parameters']['query']>;

/** At most this many problems are listed in one refusal (the error envelope's limit). */
const MAX_DETAILS = 100;
/** Advisories matched against the fleet per statement of candidates, so one import never holds them all in memory. */
const ADVISORIES_PER_MATCH = 50;

function matchesOf(candidates: readonly repo.Candidate[]): repo.MatchInsert[] {
  const entries = new Map<string, CompiledEntry>();
  const found: repo.MatchInsert[] = [];
  for (const c of candidates) {
    const key = `${c.advisory_id}\u0000${c.position}`;
    let entry = entries.get(key);
    if (!entry) entries.set(key, (entry = compileEntry(c.advisory_ecosystem, c.ranges, c.versions)));
    const { affected, fixed } = verdictOf(entry, c.version);
    if (affected) found.push({ package_id: c.package_id, agent_id: c.agent_id, advisory_id: c.advisory_id, fixed_versions: fixed });
  }
  return found;
}

/**
 * Matches an agent's packages, just replaced, against every advisory in place of their previous matches; runs in
 * the report's transaction. Called by the inventory service.
 */
export async function matchAgentPackages(trx: Executor, agentId: string): Promise<void> {
  await repo.lockMatchingShared(trx);
  await repo.deleteMatchesOfAgent(trx, agentId);
  await repo.insertMatches(trx, matchesOf(await repo.candidatesOfAgent(trx, agentId)));
}

/** The ecosystem of an agent's packages that do not name one: its operating system's (osv.ts). */
export async function defaultEcosystem(db: Executor, agentId: string): Promise<string> {
  return osEcosystem(await repo.agentOsVersion(db, agentId));
}

const time = (text: string | undefined) => (text === undefined ? null : new Date(text).toISOString());

export class VulnerabilityService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Upserts advisories by id and `modified`, all or none, and rematches the ones that changed. */
  async import(advisories: readonly Schemas['OsvAdvisory'][]): Promise<Schemas['AdvisoryImportResult']> {
    const problems: ErrorDetail[] = [];
    const seen = new Set<string>();
    advisories.forEach((advisory, i) => {
      if (seen.has(advisory.id)) problems.push({ field: `advisories.${i}.id`, message: `repeats advisory ${advisory.id}`, value: advisory.id });
      seen.add(advisory.id);
      problems.push(...advisoryProblems(advisory, `advisories.${i}`));
    });
    if (problems.length > 0) {
      const shown = problems.slice(0, MAX_DETAILS);
      throw new ApiError(
        shown.length > 1 ? 'VAL_MULTIPLE_ERRORS' : 'VAL_ERROR',
        shown.length > 1 ? `The advisories are invalid (${problems.length} problems)` : `Invalid field ${shown[0]!.field}: ${shown[0]!.message}`,
        { details: shown },
      );
    }
    const ids = advisories.map((a) => a.id);
    return this.#db.transaction().execute(async (trx) => {
      await repo.lockMatchingExclusive(trx);
      const stored = await repo.storedModified(trx, ids);
      const statuses = advisories.map((a): Schemas['AdvisoryImportItem']['status'] => {
        const modified = stored.get(a.id);
        return modified === undefined ? 'created' : modified.getTime() < Date.parse(a.modified) ? 'updated' : 'unchanged';
      });
      const changed = advisories.filter((_, i) => statuses[i] !== 'unchanged');
      await repo.writeAdvisories(
        trx,
        changed.map((a) => {
          const severity = severityOf(a);
          return {
            id: a.id,
            aliases: a.aliases ?? [],
            summary: a.summary ?? null,
            severity,
            severity_rank: SEVERITY_RANK[severity],
            modified_at: new Date(a.modified).toISOString(),
            published_at: time(a.published),
            withdrawn_at: time(a.withdrawn),
            document: a,
            packages: (a.affected ?? []).map((p) => ({ ecosystem: p.package.ecosystem, name: p.package.name, ranges: p.ranges ?? [], versions: p.versions ?? [] })),
          };
        }),
      );
      const changedIds = changed.map((a) => a.id);
      if (changedIds.length > 0) await repo.deleteMatchesOfAdvisories(trx, changedIds);
      for (let i = 0; i < changedIds.length; i += ADVISORIES_PER_MATCH) {
        await repo.insertMatches(trx, matchesOf(await repo.candidatesOfAdvisories(trx, changedIds.slice(i, i + ADVISORIES_PER_MATCH))));
      }
      const outcomes = await repo.advisoryOutcomes(trx, ids);
      const results = advisories.map((a, i) => ({ id: a.id, status: statuses[i]!, ...outcomes.get(a.id)! }));
      return {
        created: statuses.filter((s) => s === 'created').length,
        updated: statuses.filter((s) => s === 'updated').length,
        unchanged: statuses.filter((s) => s === 'unchanged').length,
        results,
      };
    });
  }

  async list(caller: Caller, query: ListQuery, ctx: RequestContext): Promise<{ items: Schemas['PackageVulnerability'][]; pagination: Pagination }> {
    return this.#list({ teamIds: caller.teamIds, teamId: query.team_id, agentId: query.agent_id, ...this.#filters(query) }, query, ctx);
  }

  async listOfAgent(caller: Caller, agentId: string, query: AgentListQuery, ctx: RequestContext): Promise<{ items: Schemas['PackageVulnerability'][]; pagination: Pagination }> {
    if (!(await findAgent(this.#db, agentId, caller.teamIds))) throw notFound('Agent', agentId);
    return this.#list({ teamIds: caller.teamIds, agentId, ...this.#filters(query) }, query, ctx);
  }

  #filters(query: AgentListQuery): Omit<repo.VulnerabilityFilter, 'teamIds'> {
    return { severity: query.severity, advisoryId: query.advisory_id, name: query.name, ecosystem: query.ecosystem };
  }

  async #list(filter: repo.VulnerabilityFilter, query: AgentListQuery, ctx: RequestContext): Promise<{ items: Schemas['PackageVulnerability'][]; pagination: Pagination }> {
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.VULNERABILITY_SORT,
      defaultSort: 'severity:desc,hostname:asc,name:asc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listMatches(this.#db, filter, keys, window),
      count: () => repo.countMatchRows(this.#db, filter),
      cursorValue: (row, field) => (field === 'severity' ? row.severity_rank : row[field]),
    });
    return { items: rows.map(toPackageVulnerability), pagination };
  }
}
