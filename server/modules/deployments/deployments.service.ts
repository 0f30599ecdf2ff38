// The rules of deployments: team scope, the previous version found at creation, status moving only along
// pending → running → succeeded | failed with its timings, If-Match on changes, and rollbacks as new
// deployments of the previous version that turn the original `rolled_back` when they succeed. Each change
// records its event in the transaction that makes it: `deployment.created`, `deployment.rollback_requested` (for a
// rollback, instead of `deployment.created`) and `deployment.finished` for each end.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { Database, DeploymentRow } from '../../db/schema.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { recordEvent, recordEvents } from '../../events/outbox.ts';
import { rollbackAccepted, toDeployment, type Deployment } from './deployments.mapper.ts';
import * as repo from './deployments.repository.ts';

type Schemas = components['schemas'];
export type DeploymentListQuery = NonNullable<operations['listDeployments']['parameters']['query']>;
type Status = DeploymentRow['status'];

/** The statuses each status may move to through `updateDeployment`. */
const NEXT: Record<Status, readonly Status[]> = {
  pending: ['running'],
  running: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
  rolled_back: [],
};

const ROLLBACKABLE = new Set<Status>(['succeeded', 'failed']);
/** The ends of a deployment, each announced with `deployment.finished`. */
const FINISHED = new Set<Status>(['succeeded', 'failed', 'rolled_back']);

const rollbackInProgress = (id: string) =>
  new ApiError('BIZ_ROLLBACK_IN_PROGRESS', `A rollback of deployment ${id} is already pending or running`);

export class DeploymentService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(caller: Caller, query: DeploymentListQuery, ctx: RequestContext): Promise<{ items: Deployment[]; pagination: Pagination }> {
    const filter: repo.DeploymentFilter = {
      teamIds: caller.teamIds,
      teamId: query.team_id,
      environment: query.environment,
      status: query.status,
      service: query.service,
      createdAfter: query.created_after,
      createdBefore: query.created_before,
    };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listDeployments(this.#db, filter, keys, window),
      count: () => repo.countDeployments(this.#db, filter),
    });
    return { items: rows.map(toDeployment), pagination };
  }

  async get(caller: Caller, id: string): Promise<Deployment> {
    const row = await repo.findDeployment(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Deployment', id);
    return toDeployment(row);
  }

  async create(caller: Caller, input: Schemas['DeploymentCreate']): Promise<Deployment> {
    const teamId = owningTeam(caller, input.team_id);
    return this.#db.transaction().execute(async (trx) => {
      const row = await repo.insertDeployment(trx, {
        id: uuidv7(),
        team_id: teamId,
        service: input.service,
        version: input.version,
        environment: input.environment,
        previous_version: await repo.liveVersion(trx, teamId, input.service, input.environment),
        rollback_of: null,
        created_by: caller.agentId ? null : caller.userId,
      });
      const deployment = toDeployment(row);
      await recordEvent(trx, 'deployment.created', row.team_id, deployment);
      return deployment;
    });
  }

  /** Merge patch of `status`: only along the allowed transitions; the current status again changes nothing. */
  async patch(caller: Caller, id: string, input: Schemas['DeploymentPatch'], ctx: RequestContext): Promise<Deployment> {
    const row = await this.#db.transaction().execute(async (trx) => {
      const current = await repo.lockDeployment(trx, id, caller.teamIds);
      if (!current) throw notFound('Deployment', id);
      // The If-Match held when checked; the row must still be that version now that it is locked.
      if (ctx.expectedUpdatedAt && current.updated_at.getTime() !== new Date(ctx.expectedUpdatedAt).getTime()) throw movedOn('deployment');
      const next = input.status;
      if (next === undefined || next === current.status) return current;
      if (!NEXT[current.status].includes(next)) {
        throw new ApiError('BIZ_DEPLOYMENT_INVALID_TRANSITION', `Deployment ${id} is ${current.status}; it cannot become ${next}`, {
          details: [{ field: 'status', message: `allowed from ${current.status}: ${NEXT[current.status].join(', ') || 'none'}`, value: next }],
        });
      }
      const updated = await repo.setStatus(trx, id, next);
      const rolledBack = next === 'succeeded' && updated.rollback_of ? await repo.markRolledBack(trx, updated.rollback_of) : undefined;
      await recordEvents(
        trx,
        [updated, rolledBack].flatMap((row) => (row && FINISHED.has(row.status) ? [{ type: 'deployment.finished' as const, teamId: row.team_id, data: toDeployment(row) }] : [])),
      );
      return updated;
    });
    return toDeployment(row);
  }

  /**
   * A new deployment of the previous version, linked to the one rolled back, keeping why and on whose behalf
   * (by default the caller's email), announced with `deployment.rollback_requested` (not `deployment.created`).
   */
  async rollback(caller: Caller, id: string, input: Schemas['RollbackRequest'] = {}): Promise<Schemas['RollbackAccepted']> {
    const requestedBy = input.requested_by ?? caller.email;
    const rollback = await this.#db
      .transaction()
      .execute(async (trx) => {
        const original = await repo.lockDeployment(trx, id, caller.teamIds);
        if (!original) throw notFound('Deployment', id);
        if (!ROLLBACKABLE.has(original.status) || original.previous_version === null) {
          const why = original.previous_version === null ? 'it has no previous version' : `it is ${original.status}`;
          throw new ApiError('BIZ_DEPLOYMENT_NOT_ROLLBACKABLE', `Deployment ${id} cannot be rolled back: ${why}; only a succeeded or failed deployment with a previous version can`);
        }
        if (await repo.activeRollbackOf(trx, id)) throw rollbackInProgress(id);
        const row = await repo.insertDeployment(trx, {
          id: uuidv7(),
          team_id: original.team_id,
          service: original.service,
          version: original.previous_version,
          environment: original.environment,
          previous_version: original.version,
          rollback_of: original.id,
          reason: input.reason ?? null,
          requested_by: requestedBy,
          created_by: caller.agentId ? null : caller.userId,
        });
        await recordEvent(trx, 'deployment.rollback_requested', row.team_id, toDeployment(row));
        return row;
      })
      .catch((err: unknown) => {
        if (isUniqueViolation(err, 'deployments_one_active_rollback')) throw rollbackInProgress(id);
        throw err;
      });
    return rollbackAccepted(rollback, id, requestedBy);
  }
}
