// The rules for alerts: team scope, a source agent of the alert's own team, one unresolved alert per
// fingerprint and team, the open → acknowledged → resolved life cycle, lists, and bulk creation that
// answers item by item: every item is checked on its own, the good ones are stored in batches (each in a
// savepoint of one transaction), and a batch the database refuses is retried item by item, so one bad
// item never costs the others and nothing of a failed item is stored.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { isDatabaseUnavailable, isUniqueViolation } from '../../db/errors.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { Executor } from '../../db/executor.ts';
import { inSavepoint } from '../../db/savepoint.ts';
import { recordEvent, recordEvents } from '../../events/outbox.ts';
import type { Database, NewAlertRow } from '../../db/schema.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { checkAlertItem, type ItemProblem } from './alerts.item-check.ts';
import { toAlert } from './alerts.mapper.ts';
import * as repo from './alerts.repository.ts';

type Schemas = components['schemas'];
type Alert = Schemas['Alert'];
export type AlertListQuery = NonNullable<operations['listAlerts']['parameters']['query']>;
type BulkItemResult = Schemas['AlertBulkItemResult'];

/** How many rows one INSERT of a bulk request carries. */
export const BULK_BATCH_SIZE = 200;

const duplicateFingerprint = (fingerprint: string, why: string): ApiError =>
  new ApiError('RES_ALREADY_EXISTS', `An unresolved alert with fingerprint ${fingerprint} already exists in this team${why}`, {
    details: [{ field: 'fingerprint', message: 'taken by an unresolved alert of the team', value: fingerprint }],
  });

const unknownAgent = (agentId: string): ApiError =>
  new ApiError('RES_NOT_FOUND', `Agent ${agentId} not found`, { details: [{ field: 'agent_id', message: "no such agent in the caller's teams", value: agentId }] });

const agentOfOtherTeam = (agentId: string, teamId: string): ApiError =>
  new ApiError('VAL_ERROR', `Agent ${agentId} does not belong to team ${teamId}`, {
    details: [{ field: 'agent_id', message: 'belongs to another team than team_id', value: agentId }],
  });

const asProblem = (err: ApiError): ItemProblem => ({ code: err.code, message: err.message, details: err.details ?? [] });

/**
 * The team an alert goes to. `agentTeam` is the source agent's team (`undefined` when no agent is named,
 * `null` when the named agent is not one of the caller's).
 */
function teamOf(caller: Caller, input: Schemas['AlertCreate'], agentTeam: string | null | undefined): string {
  if (input.team_id !== undefined && !caller.teamIds.includes(input.team_id)) throw notFound('Team', input.team_id);
  if (input.agent_id !== undefined) {
    if (!agentTeam) throw unknownAgent(input.agent_id);
    if (input.team_id !== undefined && input.team_id !== agentTeam) throw agentOfOtherTeam(input.agent_id, input.team_id);
    return agentTeam;
  }
  return owningTeam(caller, input.team_id);
}

function newRow(teamId: string, input: Schemas['AlertCreate']): NewAlertRow {
  return {
    id: uuidv7(),
    team_id: teamId,
    agent_id: input.agent_id ?? null,
    title: input.title,
    message: input.message ?? null,
    severity: input.severity,
    source: input.source ?? null,
    fingerprint: input.fingerprint ?? null,
  };
}

/** What a database refusal of one item means for that item. */
function storeProblem(err: unknown, row: NewAlertRow, ctx: RequestContext): ItemProblem {
  if (isUniqueViolation(err, repo.FINGERPRINT_KEY) && row.fingerprint) return asProblem(duplicateFingerprint(row.fingerprint, ''));
  ctx.log.warn({ err: (err as Error).message, code: (err as { code?: unknown }).code }, 'alerts: the database refused one bulk item');
  return { code: 'SYS_INTERNAL_ERROR', message: 'The alert could not be stored', details: [] };
}

/** Stores alerts with their `alert.triggered` events, in the caller's transaction (alert rules raise theirs so too). */
export async function insertTriggered(trx: Executor, rows: readonly NewAlertRow[]): Promise<Alert[]> {
  const stored = (await repo.insertAlerts(trx, rows)).map(toAlert);
  await recordEvents(trx, stored.map((alert) => ({ type: 'alert.triggered', teamId: alert.team_id, data: alert })));
  return stored;
}

/** Resolves a locked, unresolved alert with its `alert.resolved` event; `userId` null when Opsdeck resolves it. */
export async function resolveLocked(trx: Executor, id: string, userId: string | null): Promise<Alert> {
  const resolved = toAlert(await repo.resolve(trx, id, userId));
  await recordEvent(trx, 'alert.resolved', resolved.team_id, resolved);
  return resolved;
}

export class AlertService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(caller: Caller, query: AlertListQuery, ctx: RequestContext): Promise<{ items: Alert[]; pagination: Pagination }> {
    const filter: repo.AlertFilter = {
      teamIds: caller.teamIds,
      teamId: query.team_id,
      severity: query.severity,
      status: query.status,
      agentId: query.agent_id,
      createdAfter: query.created_after,
      createdBefore: query.created_before,
    };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listAlerts(this.#db, filter, keys, window),
      count: () => repo.countAlerts(this.#db, filter),
      cursorValue: repo.cursorValue,
    });
    return { items: rows.map(toAlert), pagination };
  }

  async get(caller: Caller, id: string): Promise<Alert> {
    const row = await repo.findAlert(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Alert', id);
    return toAlert(row);
  }

  async create(caller: Caller, input: Schemas['AlertCreate']): Promise<Alert> {
    const agentTeam = input.agent_id === undefined ? undefined : ((await repo.agentTeams(this.#db, [input.agent_id], caller.teamIds)).get(input.agent_id) ?? null);
    const row = newRow(teamOf(caller, input, agentTeam), input);
    return this.#db
      .transaction()
      .execute(async (trx) => {
        const alert = toAlert(await repo.insertAlert(trx, row));
        await recordEvent(trx, 'alert.triggered', alert.team_id, alert);
        return alert;
      })
      .catch((err: unknown) => {
        if (isUniqueViolation(err, repo.FINGERPRINT_KEY)) throw duplicateFingerprint(row.fingerprint ?? '', '');
        throw err;
      });
  }

  async acknowledge(caller: Caller, id: string): Promise<Alert> {
    return this.#db.transaction().execute(async (trx) => {
      const alert = await repo.lockAlert(trx, id, caller.teamIds);
      if (!alert) throw notFound('Alert', id);
      if (alert.status === 'acknowledged') throw new ApiError('BIZ_ALERT_ALREADY_ACKNOWLEDGED', `Alert ${id} has already been acknowledged`);
      if (alert.status === 'resolved') throw new ApiError('BIZ_ALERT_RESOLVED', `Alert ${id} is resolved`);
      const acknowledged = toAlert(await repo.acknowledge(trx, id, caller.userId));
      await recordEvent(trx, 'alert.acknowledged', acknowledged.team_id, acknowledged);
      return acknowledged;
    });
  }

  async resolve(caller: Caller, id: string): Promise<Alert> {
    return this.#db.transaction().execute(async (trx) => {
      const alert = await repo.lockAlert(trx, id, caller.teamIds);
      if (!alert) throw notFound('Alert', id);
      if (alert.status === 'resolved') throw new ApiError('BIZ_ALERT_RESOLVED', `Alert ${id} has already been resolved`);
      return resolveLocked(trx, id, caller.userId);
    });
  }

  /** Up to 1,000 alerts, each checked and stored on its own; the results follow the items' order. */
  async createMany(caller: Caller, items: readonly Schemas['AlertBulkItem'][], ctx: RequestContext): Promise<Schemas['AlertBulkResult']> {
    const results: BulkItemResult[] = items.map((_, index) => ({ index, status: 'failed' }));
    const fail = (index: number, problem: ItemProblem) => {
      results[index] = { index, status: 'failed', error: { code: problem.code, message: problem.message, ...(problem.details.length ? { details: problem.details } : {}) } };
    };

    // 1. Each item against AlertCreate.
    const valid: Array<{ index: number; input: Schemas['AlertCreate'] }> = [];
    items.forEach((item, index) => {
      const checked = checkAlertItem(item as Record<string, unknown>);
      if ('problem' in checked) fail(index, checked.problem);
      else valid.push({ index, input: checked.ok });
    });

    // 2. Teams and source agents, with one query for every agent named.
    const agentIds = [...new Set(valid.flatMap((v) => (v.input.agent_id === undefined ? [] : [v.input.agent_id])))];
    const agentTeams = await repo.agentTeams(this.#db, agentIds, caller.teamIds);
    const placed: Array<{ index: number; row: NewAlertRow }> = [];
    for (const { index, input } of valid) {
      try {
        const agentTeam = input.agent_id === undefined ? undefined : (agentTeams.get(input.agent_id) ?? null);
        placed.push({ index, row: newRow(teamOf(caller, input, agentTeam), input) });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        fail(index, asProblem(err));
      }
    }

    // 3. Fingerprints: free in the database, and the first item of the request to claim one keeps it.
    const fingerprints = [...new Set(placed.flatMap((p) => (p.row.fingerprint ? [p.row.fingerprint] : [])))];
    const taken = await repo.takenFingerprints(this.#db, [...new Set(placed.map((p) => p.row.team_id))], fingerprints);
    const claimedBy = new Map<string, number>();
    const good: Array<{ index: number; row: NewAlertRow }> = [];
    for (const entry of placed) {
      const { fingerprint, team_id } = entry.row;
      if (fingerprint) {
        const key = `${team_id} ${fingerprint}`;
        if (taken.has(key)) {
          fail(entry.index, asProblem(duplicateFingerprint(fingerprint, '')));
          continue;
        }
        const first = claimedBy.get(key);
        if (first !== undefined) {
          fail(entry.index, asProblem(duplicateFingerprint(fingerprint, ` (item ${first} of this request has it)`)));
          continue;
        }
        claimedBy.set(key, entry.index);
      }
      good.push(entry);
    }

    // 4. Store the good ones: a batch per INSERT, each in its own savepoint; a refused batch item by item.
    await this.#db.transaction().execute(async (trx) => {
      for (let start = 0; start < good.length; start += BULK_BATCH_SIZE) {
        const batch = good.slice(start, start + BULK_BATCH_SIZE);
        try {
          await inSavepoint(trx, 'alerts_batch', () => insertTriggered(trx, batch.map((b) => b.row)));
          for (const { index, row } of batch) results[index] = { index, status: 'created', id: row.id };
        } catch (err) {
          if (isDatabaseUnavailable(err)) throw err;
          for (const { index, row } of batch) {
            try {
              await inSavepoint(trx, 'alerts_item', () => insertTriggered(trx, [row]));
              results[index] = { index, status: 'created', id: row.id };
            } catch (itemErr) {
              if (isDatabaseUnavailable(itemErr)) throw itemErr;
              fail(index, storeProblem(itemErr, row, ctx));
            }
          }
        }
      }
    });

    const created = results.filter((r) => r.status === 'created').length;
    return { created, failed: results.length - created, results };
  }
}
