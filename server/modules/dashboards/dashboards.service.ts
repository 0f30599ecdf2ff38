// Dashboards: a team's saved layouts of metric queries. Team scope (another team's dashboard is 404), names unique
// per team regardless of case, merge-patch semantics (`panels` replaces all of them), a version that counts
// changes, If-Match preconditions. Each panel's query is checked like a `queryMetrics` body when it is saved, and
// its panel must fit the grid; `data` answers them all.
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { cursorValue } from '../../db/keyset.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import type { Executor } from '../../db/executor.ts';
import { owningTeam } from '../../db/owning-team.ts';
import { ApiError, movedOn, notFound, type ErrorDetail } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { planQuery, type MetricQueryService } from '../metric-queries/metric-queries.service.ts';
import { toDashboard, type Dashboard } from './dashboards.mapper.ts';
import * as repo from './dashboards.repository.ts';

type Schemas = components['schemas'];
export type DashboardListQuery = NonNullable<operations['listDashboards']['parameters']['query']>;

/** The grid a panel's position must fit in (the DashboardPanelPosition schema says so). */
const GRID = { columns: 24, rows: 100 } as const;

function conflictOnName(err: unknown, name: string | undefined): never {
  if (isUniqueViolation(err, 'dashboards_team_name_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `A dashboard named ${name} already exists in this team`, {
      details: [{ field: 'name', message: 'already taken in this team', value: name ?? null }],
    });
  }
  throw err;
}

/** Every panel fits the grid and its query is within the bounds of `queryMetrics` (422 naming the panel). */
function checkPanels(caller: Caller, panels: readonly Schemas['DashboardPanel'][]): void {
  const outside: ErrorDetail[] = [];
  panels.forEach((panel, i) => {
    const { x, y, w, h } = panel.position;
    if (x + w > GRID.columns) outside.push({ field: `panels.${i}.position.w`, message: `x + w must be at most ${GRID.columns}`, value: w });
    if (y + h > GRID.rows) outside.push({ field: `panels.${i}.position.h`, message: `y + h must be at most ${GRID.rows}`, value: h });
    planQuery(caller.teamIds, panel.query, `panels.${i}.query`);
  });
  if (outside.length > 0) {
    throw new ApiError(outside.length > 1 ? 'VAL_MULTIPLE_ERRORS' : 'VAL_ERROR', `A panel does not fit the grid of ${GRID.columns} × ${GRID.rows}`, { details: outside });
  }
}

export class DashboardService {
  readonly #db: Executor;
  readonly #queries: MetricQueryService;

  constructor(db: Executor, queries: MetricQueryService) {
    this.#db = db;
    this.#queries = queries;
  }

  async list(caller: Caller, query: DashboardListQuery, ctx: RequestContext): Promise<{ items: Dashboard[]; pagination: Pagination }> {
    const filter: repo.DashboardFilter = { teamIds: caller.teamIds, teamId: query.team_id, search: query.search };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'name:asc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listDashboards(this.#db, filter, keys, window),
      count: () => repo.countDashboards(this.#db, filter),
      cursorValue: (row, field) => cursorValue(field === 'name' ? row.name.toLowerCase() : row[field]),
    });
    return { items: rows.map(toDashboard), pagination };
  }

  async get(caller: Caller, id: string): Promise<Dashboard> {
    const row = await repo.findDashboard(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Dashboard', id);
    return toDashboard(row);
  }

  /** Every panel's query answered now, one after the other (at most 24, each bounded like `queryMetrics`). */
  async data(caller: Caller, id: string): Promise<Schemas['DashboardData']> {
    const dashboard = await this.get(caller, id);
    const panels: Schemas['DashboardPanelData'][] = [];
    for (const [i, panel] of dashboard.panels.entries()) {
      panels.push({ title: panel.title, position: panel.position, result: await this.#queries.query(caller, panel.query, `panels.${i}.query`) });
    }
    return { dashboard_id: dashboard.id, version: dashboard.version, panels };
  }

  async create(caller: Caller, input: Schemas['DashboardCreate']): Promise<Dashboard> {
    const teamId = owningTeam(caller, input.team_id);
    const panels = input.panels ?? [];
    checkPanels(caller, panels);
    const id = uuidv7();
    await repo
      .insertDashboard(this.#db, { id, team_id: teamId, name: input.name, description: input.description ?? null, panels })
      .catch((err: unknown) => conflictOnName(err, input.name));
    return this.get(caller, id);
  }

  /** JSON merge patch (RFC 7396): a present key sets, `null` clears the description, `panels` replaces them all. */
  async patch(caller: Caller, id: string, input: Schemas['DashboardPatch'], ctx: RequestContext): Promise<Dashboard> {
    const changes: repo.DashboardChanges = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (input.panels !== undefined) {
      checkPanels(caller, input.panels);
      changes.panels = input.panels;
    }
    if (Object.keys(changes).length === 0) return this.get(caller, id);
    const updated = await repo
      .updateDashboard(this.#db, id, caller.teamIds, changes, ctx.expectedUpdatedAt)
      .catch((err: unknown) => conflictOnName(err, input.name));
    if (!updated) throw await this.#missingOrMoved(caller, id, ctx);
    return this.get(caller, id);
  }

  async delete(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    if (!(await repo.deleteDashboard(this.#db, id, caller.teamIds, ctx.expectedUpdatedAt))) throw await this.#missingOrMoved(caller, id, ctx);
  }

  /** After a write found no row: 412 when an If-Match version moved on, else 404. */
  async #missingOrMoved(caller: Caller, id: string, ctx: RequestContext): Promise<ApiError> {
    if (ctx.expectedUpdatedAt && (await repo.findDashboard(this.#db, id, caller.teamIds))) return movedOn('dashboard');
    return notFound('Dashboard', id);
  }
}
