// The rules of pipelines: team scope, names unique within a team, merge patches under If-Match, bulk
// status changes by filter, and numbered runs that only active pipelines take, moving queued → running →
// succeeded | failed (or cancelled) while the pipeline's `last_run_status` follows its latest run. Each change
// records its event in the transaction that makes it: `pipeline.updated` per pipeline changed (a run moving
// `last_run_status` is told by its own `pipeline.run.started` / `pipeline.run.completed` instead).
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { Database, PipelineRowUpdate, PipelineRunRow } from '../../db/schema.ts';
import { recordEvent, recordEvents } from '../../events/outbox.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { toPipeline, toPipelineRun, type Pipeline, type PipelineRun } from './pipelines.mapper.ts';
import * as repo from './pipelines.repository.ts';

type Schemas = components['schemas'];
export type PipelineListQuery = NonNullable<operations['listPipelines']['parameters']['query']>;
export type PipelineRunListQuery = NonNullable<operations['listPipelineRuns']['parameters']['query']>;
type RunStatus = PipelineRunRow['status'];

/** The statuses each run status may move to through `updatePipelineRun`. */
const NEXT_RUN: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['running', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

function conflictOnName(err: unknown, name: string | undefined): never {
  if (isUniqueViolation(err, 'pipelines_team_name_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `A pipeline named ${name ?? ''} already exists in this team`, {
      details: [{ field: 'name', message: 'already taken in this team', value: name ?? '' }],
    });
  }
  throw err;
}

export class PipelineService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(caller: Caller, query: PipelineListQuery, ctx: RequestContext): Promise<{ items: Pipeline[]; pagination: Pagination }> {
    const filter: repo.PipelineFilter = { teamIds: caller.teamIds, teamId: query.team_id, status: query.status, search: query.search };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listPipelines(this.#db, filter, keys, window),
      count: () => repo.countPipelines(this.#db, filter),
    });
    return { items: rows.map(toPipeline), pagination };
  }

  async get(caller: Caller, id: string): Promise<Pipeline> {
    const row = await repo.findPipeline(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Pipeline', id);
    return toPipeline(row);
  }

  async create(caller: Caller, input: Schemas['PipelineCreate']): Promise<Pipeline> {
    const row = await repo
      .insertPipeline(this.#db, {
        id: uuidv7(),
        team_id: owningTeam(caller, input.team_id),
        name: input.name,
        repository: input.repository,
        branch: input.branch ?? 'main',
        status: input.status ?? 'active',
        last_run_status: null,
      })
      .catch((err: unknown) => conflictOnName(err, input.name));
    return toPipeline(row);
  }

  /** JSON merge patch (RFC 7396); with If-Match, only the version read is changed. */
  async patch(caller: Caller, id: string, input: Schemas['PipelinePatch'], ctx: RequestContext): Promise<Pipeline> {
    const changes: PipelineRowUpdate = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.repository !== undefined) changes.repository = input.repository;
    if (input.branch !== undefined) changes.branch = input.branch;
    if (input.status !== undefined) changes.status = input.status;
    if (Object.keys(changes).length === 0) return this.get(caller, id);
    const pipeline = await this.#db
      .transaction()
      .execute(async (trx) => {
        const row = await repo.updatePipeline(trx, id, caller.teamIds, changes, ctx.expectedUpdatedAt);
        if (!row) return undefined;
        const updated = toPipeline(row);
        await recordEvent(trx, 'pipeline.updated', row.team_id, updated);
        return updated;
      })
      .catch((err: unknown) => conflictOnName(err, input.name));
    if (!pipeline) throw await this.#missingOrMoved(caller, id, ctx);
    return pipeline;
  }

  async delete(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    if (!(await repo.deletePipeline(this.#db, id, caller.teamIds, ctx.expectedUpdatedAt))) throw await this.#missingOrMoved(caller, id, ctx);
  }

  async bulkUpdate(caller: Caller, input: Schemas['PipelineBulkUpdate']): Promise<Schemas['PipelineBulkResult']> {
    const filter: repo.BulkFilter = { status: input.filter.status, teamId: input.filter.team_id, nameContains: input.filter.name_contains };
    return this.#db.transaction().execute(async (trx) => {
      const { matched, changed } = await repo.bulkSetStatus(trx, caller.teamIds, filter, input.set.status);
      // One `pipeline.updated` per pipeline whose status changed; those already at it did not change.
      await recordEvents(trx, changed.map((row) => ({ type: 'pipeline.updated' as const, teamId: row.team_id, data: toPipeline(row) })));
      return { matched, updated: changed.length };
    });
  }

  async runs(caller: Caller, pipelineId: string, query: PipelineRunListQuery, ctx: RequestContext): Promise<{ items: PipelineRun[]; pagination: Pagination }> {
    await this.get(caller, pipelineId);
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.RUN_SORTABLE_FIELDS,
      defaultSort: 'number:desc',
      filter: { pipelineId, status: query.status },
      rows: (keys, window) => repo.listRuns(this.#db, pipelineId, query.status, keys, window),
      count: () => repo.countRuns(this.#db, pipelineId, query.status),
      cursorValue: (row) => row.number,
    });
    return { items: rows.map(toPipelineRun), pagination };
  }

  async getRun(caller: Caller, pipelineId: string, runId: string): Promise<PipelineRun> {
    await this.get(caller, pipelineId);
    const run = await repo.findRun(this.#db, pipelineId, runId);
    if (!run) throw notFound('Pipeline run', runId);
    return toPipelineRun(run);
  }

  /** Queues a run of an active pipeline, numbered after the last one (taken with the pipeline locked). */
  async run(caller: Caller, pipelineId: string, input: Schemas['PipelineRunCreate']): Promise<PipelineRun> {
    const row = await this.#db.transaction().execute(async (trx) => {
      const pipeline = await repo.lockPipeline(trx, pipelineId, caller.teamIds);
      if (!pipeline) throw notFound('Pipeline', pipelineId);
      if (pipeline.status !== 'active') throw new ApiError('BIZ_PIPELINE_NOT_ACTIVE', `Pipeline ${pipelineId} is ${pipeline.status}; only active pipelines take runs`);
      const run = await repo.insertRun(trx, {
        id: uuidv7(),
        pipeline_id: pipeline.id,
        team_id: pipeline.team_id,
        number: await repo.nextRunNumber(trx, pipeline.id),
        commit_sha: input.commit_sha,
        created_by: caller.agentId ? null : caller.userId,
      });
      await repo.followLatestRun(trx, pipeline.id, run.number, run.status);
      return run;
    });
    return toPipelineRun(row);
  }

  /** Merge patch of a run's `status`: only along the allowed transitions; the current status again changes nothing. */
  async patchRun(caller: Caller, pipelineId: string, runId: string, input: Schemas['PipelineRunPatch']): Promise<PipelineRun> {
    const row = await this.#db.transaction().execute(async (trx) => {
      const pipeline = await repo.lockPipeline(trx, pipelineId, caller.teamIds);
      if (!pipeline) throw notFound('Pipeline', pipelineId);
      const run = await repo.lockRun(trx, pipelineId, runId);
      if (!run) throw notFound('Pipeline run', runId);
      const next = input.status;
      if (next === undefined || next === run.status) return run;
      if (!NEXT_RUN[run.status].includes(next)) {
        throw new ApiError('BIZ_PIPELINE_RUN_INVALID_TRANSITION', `Run ${run.number} of pipeline ${pipelineId} is ${run.status}; it cannot become ${next}`, {
          details: [{ field: 'status', message: `allowed from ${run.status}: ${NEXT_RUN[run.status].join(', ') || 'none'}`, value: next }],
        });
      }
      const updated = await repo.setRunStatus(trx, run.id, next);
      await repo.followLatestRun(trx, pipelineId, updated.number, updated.status);
      await recordEvent(trx, next === 'running' ? 'pipeline.run.started' : 'pipeline.run.completed', updated.team_id, toPipelineRun(updated));
      return updated;
    });
    return toPipelineRun(row);
  }

  /** After a write found no row: 412 when an If-Match version moved on, else 404. */
  async #missingOrMoved(caller: Caller, id: string, ctx: RequestContext): Promise<ApiError> {
    if (ctx.expectedUpdatedAt && (await repo.findPipeline(this.#db, id, caller.teamIds))) return movedOn('pipeline');
    return notFound('Pipeline', id);
  }
}
