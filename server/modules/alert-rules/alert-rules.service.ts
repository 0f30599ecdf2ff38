// Alert rules: team scope (another team's rule is 404), a scope whose agent or group belongs to the rule's
// team, merge-patch semantics with If-Match preconditions, and the rule's firing alerts resolved when it is
// turned off or deleted (in the same transaction). Evaluation is the evaluator's (alert-rules.evaluator.ts).
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { Database } from '../../db/schema.ts';
import type { Executor } from '../../db/executor.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { clearStates } from './alert-rules.evaluator.ts';
import { toAlertRule, type AlertRule } from './alert-rules.mapper.ts';
import * as repo from './alert-rules.repository.ts';

type Schemas = components['schemas'];
export type AlertRuleListQuery = NonNullable<operations['listAlertRules']['parameters']['query']>;

/** 404 (naming the field) unless the scope's agent and group belong to the team. */
async function checkScope(db: Executor, teamId: string, scope: Schemas['AlertRuleScope']): Promise<void> {
  if (scope.agent_id !== undefined && !(await repo.agentInTeam(db, scope.agent_id, teamId))) {
    throw new ApiError('RES_NOT_FOUND', `Agent ${scope.agent_id} not found`, { details: [{ field: 'scope.agent_id', message: "no such agent in the rule's team", value: scope.agent_id }] });
  }
  if (scope.group_id !== undefined && !(await repo.groupInTeam(db, scope.group_id, teamId))) {
    throw new ApiError('RES_NOT_FOUND', `Agent group ${scope.group_id} not found`, { details: [{ field: 'scope.group_id', message: "no such agent group in the rule's team", value: scope.group_id }] });
  }
}

export class AlertRuleService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(caller: Caller, query: AlertRuleListQuery, ctx: RequestContext): Promise<{ items: AlertRule[]; pagination: Pagination }> {
    const filter: repo.AlertRuleFilter = { teamIds: caller.teamIds, teamId: query.team_id };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listRules(this.#db, filter, keys, window),
      count: () => repo.countRules(this.#db, filter),
    });
    return { items: rows.map(toAlertRule), pagination };
  }

  async get(caller: Caller, id: string): Promise<AlertRule> {
    const row = await repo.findRule(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Alert rule', id);
    return toAlertRule(row);
  }

  async create(caller: Caller, input: Schemas['AlertRuleCreate']): Promise<AlertRule> {
    const teamId = owningTeam(caller, input.team_id);
    const scope = input.scope ?? {};
    await checkScope(this.#db, teamId, scope);
    const row = await repo.insertRule(this.#db, {
      id: uuidv7(),
      team_id: teamId,
      name: input.name,
      metric: input.metric,
      scope: JSON.stringify(scope),
      aggregation: input.condition.aggregation,
      window_seconds: input.condition.window_seconds,
      operator: input.condition.operator,
      threshold: input.condition.threshold,
      for_seconds: input.for_seconds ?? 0,
      no_data_seconds: input.no_data_seconds ?? null,
      severity: input.severity,
      labels: JSON.stringify(input.labels ?? {}),
      description_template: input.description_template ?? '',
      enabled: input.enabled ?? true,
    });
    return toAlertRule(row);
  }

  /** JSON merge patch (RFC 7396): an object field is replaced whole. */
  async patch(caller: Caller, id: string, input: Schemas['AlertRulePatch'], ctx: RequestContext): Promise<AlertRule> {
    return this.#db.transaction().execute(async (trx) => {
      const current = await this.#lockForWrite(trx, caller, id, ctx);
      if (input.scope !== undefined) await checkScope(trx, current.team_id, input.scope);
      const updated = await repo.updateRule(trx, id, {
        ...(input.name !== undefined && { name: input.name }),
        ...(input.metric !== undefined && { metric: input.metric }),
        ...(input.scope !== undefined && { scope: JSON.stringify(input.scope) }),
        ...(input.condition !== undefined && {
          aggregation: input.condition.aggregation,
          window_seconds: input.condition.window_seconds,
          operator: input.condition.operator,
          threshold: input.condition.threshold,
        }),
        ...(input.for_seconds !== undefined && { for_seconds: input.for_seconds }),
        ...(input.no_data_seconds !== undefined && { no_data_seconds: input.no_data_seconds }),
        ...(input.severity !== undefined && { severity: input.severity }),
        ...(input.labels !== undefined && { labels: JSON.stringify(input.labels) }),
        ...(input.description_template !== undefined && { description_template: input.description_template }),
        ...(input.enabled !== undefined && { enabled: input.enabled }),
      });
      if (current.enabled && !updated.enabled) await clearStates(trx, current, await repo.statesOf(trx, id));
      return toAlertRule(updated);
    });
  }

  async delete(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const current = await this.#lockForWrite(trx, caller, id, ctx);
      await clearStates(trx, current, await repo.statesOf(trx, id));
      await repo.deleteRule(trx, id);
    });
  }

  /** The rule, locked; 404 when it is not the caller's, 412 when an If-Match version moved on. */
  async #lockForWrite(trx: Executor, caller: Caller, id: string, ctx: RequestContext) {
    const current = await repo.lockRule(trx, id, caller.teamIds);
    if (!current) throw notFound('Alert rule', id);
    if (ctx.expectedUpdatedAt && current.updated_at.getTime() !== new Date(ctx.expectedUpdatedAt).getTime()) throw movedOn('alert rule');
    return current;
  }
}
