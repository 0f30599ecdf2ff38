// Thin Kysely queries for alerts, with explicit columns. Every read is scoped to the caller's teams;
// every function takes a Kysely instance or a transaction, so the service decides what runs together.
import { sql, type RawBuilder } from 'kysely';
import type { AlertRow, NewAlertRow } from '../../db/schema.ts';
import { cursorValue as toCursorValue, pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { createdWithin, onlyTeams } from '../../db/team-scope.ts';

export const SORTABLE_FIELDS = ['created_at', 'updated_at', 'severity'] as const;
export type AlertSortField = (typeof SORTABLE_FIELDS)[number];

/** The partial unique index that keeps one unresolved alert per fingerprint and team. */
export const FINGERPRINT_KEY = 'alerts_team_fingerprint_unresolved_key';

export interface AlertFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  severity?: AlertRow['severity'] | undefined;
  status?: AlertRow['status'] | undefined;
  agentId?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
}

const alertColumns = [
  'id',
  'team_id',
  'agent_id',
  'title',
  'message',
  'severity',
  'status',
  'source',
  'fingerprint',
  'rule_id',
  'labels',
  'acknowledged_by',
  'acknowledged_at',
  'resolved_by',
  'resolved_at',
  'created_at',
  'updated_at',
] as const;

/** Severity by urgency, not by name: info 1, warning 2, critical 3. */
export const SEVERITY_RANK: Record<AlertRow['severity'], number> = { info: 1, warning: 2, critical: 3 };

function sortExpression(field: AlertSortField | 'id'): RawBuilder<unknown> {
  if (field === 'severity') return sql`(case severity when 'info' then 1 when 'warning' then 2 else 3 end)`;
  return sql.ref(field);
}

/** The cursor value of a row for one sort field, comparable with `sortExpression`. */
export function cursorValue(row: AlertRow, field: AlertSortField): string | number | null {
  return field === 'severity' ? SEVERITY_RANK[row.severity] : toCursorValue(row[field]);
}

const inTeams = (db: Executor, teamIds: readonly string[]) => db.selectFrom('alerts').$call(onlyTeams(teamIds));

function filtered(db: Executor, filter: AlertFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.severity) query = query.where('severity', '=', filter.severity);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.agentId) query = query.where('agent_id', '=', filter.agentId);
  query = query.$call(createdWithin(filter.createdAfter, filter.createdBefore));
  return query;
}

export const listAlerts = (db: Executor, filter: AlertFilter, keys: SortKey<AlertSortField>[], window: Window): Promise<AlertRow[]> =>
  pageOf(filtered(db, filter).select(alertColumns), keys, window, sortExpression).execute();

export async function countAlerts(db: Executor, filter: AlertFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findAlert = (db: Executor, id: string, teamIds: readonly string[]): Promise<AlertRow | undefined> =>
  inTeams(db, teamIds).select(alertColumns).where('id', '=', id).executeTakeFirst();

/** One of the caller's alerts, locked for the rest of the transaction. */
export const lockAlert = (db: Executor, id: string, teamIds: readonly string[]): Promise<AlertRow | undefined> =>
  inTeams(db, teamIds).select(alertColumns).where('id', '=', id).forUpdate().executeTakeFirst();

export const insertAlert = (db: Executor, row: NewAlertRow): Promise<AlertRow> =>
  db.insertInto('alerts').values(row).returning(alertColumns).executeTakeFirstOrThrow();

/** The unresolved alert of a team with this fingerprint, locked for the rest of the transaction. */
export const lockUnresolvedByFingerprint = (db: Executor, teamId: string, fingerprint: string): Promise<AlertRow | undefined> =>
  db.selectFrom('alerts').select(alertColumns).where('team_id', '=', teamId).where('fingerprint', '=', fingerprint).where('status', '<>', 'resolved').forUpdate().executeTakeFirst();

/** Many alerts in one statement (their ids are chosen by the caller). */
export async function insertAlerts(db: Executor, rows: readonly NewAlertRow[]): Promise<AlertRow[]> {
  return rows.length > 0 ? db.insertInto('alerts').values([...rows]).returningAll().execute() : [];
}

export const acknowledge = (db: Executor, id: string, userId: string): Promise<AlertRow> =>
  db
    .updateTable('alerts')
    .set({ status: 'acknowledged', acknowledged_by: userId, acknowledged_at: sql`now()`, updated_at: sql`now()` })
    .where('id', '=', id)
    .returning(alertColumns)
    .executeTakeFirstOrThrow();

/** `userId` null: resolved by Opsdeck itself (an alert rule whose condition cleared). */
export const resolve = (db: Executor, id: string, userId: string | null): Promise<AlertRow> =>
  db
    .updateTable('alerts')
    .set({ status: 'resolved', resolved_by: userId, resolved_at: sql`now()`, updated_at: sql`now()` })
    .where('id', '=', id)
    .returning(alertColumns)
    .executeTakeFirstOrThrow();

/** The agents among `ids` that belong to the caller's teams, with their team. */
export async function agentTeams(db: Executor, ids: readonly string[], teamIds: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0 || teamIds.length === 0) return new Map();
  const rows = await db.selectFrom('agents').select(['id', 'team_id']).where('id', 'in', [...ids]).where('team_id', 'in', teamIds).execute();
  return new Map(rows.map((r) => [r.id, r.team_id]));
}

/** Which of the fingerprints an unresolved alert of these teams already has, as `team_id + ' ' + fingerprint`. */
export async function takenFingerprints(db: Executor, teamIds: readonly string[], fingerprints: readonly string[]): Promise<Set<string>> {
  if (teamIds.length === 0 || fingerprints.length === 0) return new Set();
  const rows = await db
    .selectFrom('alerts')
    .select(['team_id', 'fingerprint'])
    .where('team_id', 'in', [...teamIds])
    .where('fingerprint', 'in', [...fingerprints])
    .where('status', '<>', 'resolved')
    .execute();
  return new Set(rows.map((r) => `${r.team_id} ${r.fingerprint}`));
}

/** The unresolved (open or acknowledged) alerts about each of these agents, counted by severity; one query for a page. */
export async function unresolvedBySeverity(db: Executor, agentIds: readonly string[], teamIds: readonly string[]) {
  if (agentIds.length === 0) return [];
  return inTeams(db, teamIds)
    .select(['agent_id', 'severity', sql<number>`count(*)::int`.as('n')])
    .where('agent_id', 'in', [...agentIds])
    .where('status', 'in', ['open', 'acknowledged'])
    .groupBy(['agent_id', 'severity'])
    .execute();
}
