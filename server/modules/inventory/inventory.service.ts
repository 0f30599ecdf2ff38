// Inventory: agents report their packages, services and hardware (a report replaces the previous one in
// one transaction) and metric samples; operators read them per agent, metrics as bucketed time series,
// and across the fleet (which agents have a package, which packages have updates waiting).
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { Database } from '../../db/schema.ts';
import type { TaggedCache } from '../../edge/tagged-cache.ts';
import { ApiError, invalidParameter, notFound, type ErrorDetail } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { Batcher } from '../../db/batcher.ts';
import { policy, type MetricsPolicy } from '../../contract.ts';
import { findAgent } from '../agents/agents.repository.ts';
import type { AlertRuleNudger } from '../alert-rules/alert-rules.nudger.ts';
import type { SignsOfLife } from '../agent-protocol/agent-protocol.sign-of-life.ts';
import { teamTag } from '../agents/agents.service.ts';
import { defaultEcosystem, matchAgentPackages } from '../vulnerabilities/vulnerabilities.service.ts';
import { toFleetPackage, toHardware, toPackage, toPackageUpdate, toSystemService } from './inventory.mapper.ts';
import * as repo from './inventory.repository.ts';

type Schemas = components['schemas'];
type Query<O extends keyof operations> = NonNullable<operations[O]['parameters']['query']>;

/** The longest range a metric series may span, and the most buckets it may hold. */
export const MAX_RANGE_DAYS = 31;
export const MAX_BUCKETS = 1440;
/** How far ahead of the server's clock a sample may be (clock skew). */
const FUTURE_SKEW_MS = 5 * 60_000;
const PERCENT_METRICS = new Set<Schemas['MetricName']>(['cpu_usage', 'memory_usage', 'disk_usage']);
/** The bounds of reports (and queries): the contract's `x-metrics` policy. */
const METRICS = policy<MetricsPolicy>('x-metrics');
/** At most this many problems are listed in one refusal. */
const MAX_DETAILS = 20;

function refuse(details: ErrorDetail[]): never {
  const shown = details.slice(0, MAX_DETAILS);
  throw new ApiError(
    shown.length > 1 ? 'VAL_MULTIPLE_ERRORS' : 'VAL_ERROR',
    shown.length > 1 ? `The report is invalid (${details.length} problems)` : `Invalid field ${shown[0]!.field}: ${shown[0]!.message}`,
    { details: shown },
  );
}

/** Repeated keys of a list, as error details naming the later occurrences. */
function repeats<T>(items: readonly T[], field: string, key: (item: T) => string, what: (item: T) => string): ErrorDetail[] {
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  items.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) details.push({ field: `${field}.${i}`, message: `repeats ${what(item)}` });
    seen.add(k);
  });
  return details;
}

function date(raw: string, field: string): Date {
  const value = new Date(raw);
  if (Number.isNaN(value.getTime())) throw invalidParameter(field, 'must be an RFC 3339 date-time', raw);
  return value;
}

/** Reports stored by one statement when many arrive together (db/batcher.ts): at most 20,000 rows. */
const MAX_REPORTS_PER_BATCH = 20;

export class InventoryService {
  readonly #db: Kysely<Database>;
  readonly #cache: TaggedCache;
  readonly #signs: SignsOfLife;
  readonly #samples: Batcher<repo.AgentSamples, undefined>;

  constructor(db: Kysely<Database>, cache: TaggedCache, signs: SignsOfLife, nudger?: Pick<AlertRuleNudger, 'nudge'>) {
    this.#db = db;
    this.#cache = cache;
    this.#signs = signs;
    // Reports that arrive together are stored by one statement (the metrics of a fleet are many small
    // reports); a report's samples are never split between statements.
    this.#samples = new Batcher({
      maxItems: MAX_REPORTS_PER_BATCH,
      concurrency: 2,
      write: async (reports) => {
        // Committed: the alert rules on these metrics are evaluated soon, not only on their timer.
        nudger?.nudge(await repo.upsertSamplesOfAgents(db, reports));
        return reports.map(() => undefined);
      },
    });
  }

  /** Replaces the agent's packages, services and hardware at once; counts as a heartbeat. */
  async report(agent: Caller, report: Schemas['InventoryReport']): Promise<Schemas['InventorySummary']> {
    const agentId = agent.agentId!;
    // A package that names no ecosystem is of its operating system's (read before the repeats are looked for, as
    // `Debian:12` given and `Debian:12` taken from the system are the same).
    const osEcosystem = report.packages.some((p) => p.ecosystem === undefined) ? await defaultEcosystem(this.#db, agentId) : '';
    const packages = report.packages.map((p) => ({
      id: uuidv7(),
      name: p.name,
      version: p.version,
      available_version: p.available_version ?? null,
      architecture: p.architecture ?? '',
      ecosystem: p.ecosystem ?? osEcosystem,
    }));
    const problems = [
      ...repeats(
        packages,
        'packages',
        (p) => JSON.stringify([p.name, p.version, p.architecture, p.ecosystem]),
        (p) => `package ${p.name} ${p.version}${p.architecture ? ` (${p.architecture})` : ''}${p.ecosystem ? ` of ${p.ecosystem}` : ''}`,
      ),
      ...repeats(report.services, 'services', (s) => s.name, (s) => `service ${s.name}`),
    ];
    if (problems.length > 0) refuse(problems);
    const services = report.services.map((s) => ({ id: uuidv7(), name: s.name, state: s.state, enabled: s.enabled }));
    const { seen, reportedAt, updates } = await this.#db.transaction().execute(async (trx) => {
      // The agent's row stays locked until commit, so two reports of one agent never interleave.
      const seen = await repo.touchAgent(trx, agentId);
      if (!seen) throw notFound('Agent', agentId);
      await repo.replacePackages(trx, agentId, packages);
      // The new packages are matched against the advisories before the report commits.
      await matchAgentPackages(trx, agentId);
      await repo.replaceServices(trx, agentId, services);
      const reportedAt = await repo.upsertHardware(trx, agentId, report.hardware);
      return { seen, reportedAt, updates: packages.filter((p) => p.available_version !== null).length };
    });
    if (seen.status !== seen.previous) await this.#cache.invalidate([teamTag(seen.team_id)]);
    return { agent_id: agentId, packages: packages.length, services: services.length, updates_available: updates, reported_at: reportedAt.toISOString() };
  }

  /** Stores metric samples (a repeated metric and time: the last one wins); counts as a heartbeat. */
  async reportMetrics(agent: Caller, report: Schemas['MetricReport']): Promise<void> {
    const agentId = agent.agentId!;
    const latest = Date.now() + FUTURE_SKEW_MS;
    const problems: ErrorDetail[] = [];
    const samples = new Map<string, repo.SampleInsert>();
    const names = new Set(report.samples.map((s) => s.name));
    if (names.size > METRICS.report_max_names) {
      throw new ApiError('VAL_QUERY_TOO_LARGE', `The report holds ${names.size} distinct metric names; at most ${METRICS.report_max_names} are allowed`, {
        details: [{ field: 'samples', message: `at most ${METRICS.report_max_names} distinct metric names per report`, value: names.size }],
      });
    }
    report.samples.forEach((sample, i) => {
      const at = new Date(sample.at);
      if (at.getTime() > latest) problems.push({ field: `samples.${i}.at`, message: 'is more than 5 minutes in the future', value: sample.at });
      if (PERCENT_METRICS.has(sample.name) && sample.value > 100) problems.push({ field: `samples.${i}.value`, message: `${sample.name} is a percentage (0 to 100)`, value: sample.value });
      // Times are kept to the millisecond, so two samples within one millisecond are the same sample.
      const ms = at.toISOString();
      const { labels, key } = repo.canonicalLabels(sample.labels);
      samples.set(`${sample.name} ${ms} ${key}`, { name: sample.name, at: ms, value: sample.value, labels });
    });
    if (problems.length > 0) refuse(problems);
    // The sign of life and the samples go with other agents' in their own batches, side by side; the samples of
    // an agent that does not exist (any more) are left out, and it is answered 404 by its sign of life.
    await Promise.all([this.#signs.seen(agentId), this.#samples.add({ agentId, samples: [...samples.values()] })]);
  }

  async #agent(caller: Caller, agentId: string): Promise<void> {
    if (!(await findAgent(this.#db, agentId, caller.teamIds))) throw notFound('Agent', agentId);
  }

  async packages(caller: Caller, agentId: string, query: Query<'listAgentPackages'>, ctx: RequestContext): Promise<{ items: Schemas['Package'][]; pagination: Pagination }> {
    await this.#agent(caller, agentId);
    const filter: repo.PackageFilter = {
      agentId,
      name: query.name,
      search: query.search,
      versionGt: query.version_gt,
      versionLt: query.version_lt,
      hasUpdate: query.has_update,
    };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.PACKAGE_SORT,
      defaultSort: 'name:asc',
      filter,
      rows: (keys, window) => repo.listPackages(this.#db, filter, keys, window),
      count: () => repo.countPackages(this.#db, filter),
    });
    return { items: rows.map(toPackage), pagination };
  }

  async services(caller: Caller, agentId: string, query: Query<'listAgentServices'>, ctx: RequestContext): Promise<{ items: Schemas['SystemService'][]; pagination: Pagination }> {
    await this.#agent(caller, agentId);
    const filter: repo.ServiceFilter = { agentId, state: query.state };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SERVICE_SORT,
      defaultSort: 'name:asc',
      filter,
      rows: (keys, window) => repo.listServices(this.#db, filter, keys, window),
      count: () => repo.countServices(this.#db, filter),
    });
    return { items: rows.map(toSystemService), pagination };
  }

  async hardware(caller: Caller, agentId: string): Promise<Schemas['Hardware']> {
    await this.#agent(caller, agentId);
    const row = await repo.findHardware(this.#db, agentId);
    if (!row) throw new ApiError('RES_NOT_FOUND', `Agent ${agentId} has not reported its inventory yet`);
    return toHardware(row);
  }

  async metrics(caller: Caller, agentId: string, query: Query<'getAgentMetrics'>): Promise<Schemas['MetricSeries']> {
    const start = date(query.start_date, 'start_date');
    const end = date(query.end_date, 'end_date');
    const bucket = query.bucket ?? '5m';
    const aggregate = query.aggregate ?? 'avg';
    if (end.getTime() <= start.getTime()) throw invalidParameter('end_date', 'must be after start_date', query.end_date);
    if (end.getTime() - start.getTime() > MAX_RANGE_DAYS * 86_400_000) throw invalidParameter('end_date', `the range may span at most ${MAX_RANGE_DAYS} days`, query.end_date);
    // Buckets are aligned to the epoch, so count the ones [start, end) touches.
    const width = repo.BUCKETS[bucket] * 1000;
    const buckets = Math.floor((end.getTime() - 1) / width) - Math.floor(start.getTime() / width) + 1;
    if (buckets > MAX_BUCKETS) throw invalidParameter('bucket', `the range holds ${buckets} buckets of ${bucket}; at most ${MAX_BUCKETS} are allowed`, bucket);
    await this.#agent(caller, agentId);
    const points = await repo.series(this.#db, { agentId, name: query.name, start, end, bucket, aggregate });
    return {
      agent_id: agentId,
      name: query.name,
      bucket,
      aggregate,
      start_date: start.toISOString(),
      end_date: end.toISOString(),
      points: points.map((p) => ({ at: p.at.toISOString(), value: p.value, samples: p.samples })),
    };
  }

  async search(caller: Caller, query: Query<'searchPackages'>, ctx: RequestContext): Promise<{ items: Schemas['FleetPackage'][]; pagination: Pagination }> {
    if (query.name === undefined && query.search === undefined) throw invalidParameter('name', 'name or search is required');
    const filter: repo.FleetFilter = {
      teamIds: caller.teamIds,
      teamId: query.team_id,
      name: query.name,
      search: query.search,
      versionGt: query.version_gt,
      versionLt: query.version_lt,
      hasUpdate: query.has_update,
    };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.FLEET_PACKAGE_SORT,
      defaultSort: 'name:asc,hostname:asc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.searchPackages(this.#db, filter, keys, window),
      count: () => repo.countFleetPackages(this.#db, filter),
    });
    return { items: rows.map(toFleetPackage), pagination };
  }

  async updates(caller: Caller, query: Query<'listPackageUpdates'>, ctx: RequestContext): Promise<{ items: Schemas['PackageUpdate'][]; pagination: Pagination }> {
    const filter: repo.UpdateFilter = { teamIds: caller.teamIds, teamId: query.team_id, name: query.name, search: query.search };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.UPDATE_SORT,
      defaultSort: 'agents:desc,name:asc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listUpdates(this.#db, filter, keys, window),
      count: () => repo.countUpdateGroups(this.#db, filter),
    });
    return { items: rows.map(toPackageUpdate), pagination };
  }
}
