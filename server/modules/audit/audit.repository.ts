import { sql, type Insertable, type RawBuilder } from 'kysely';
import type { AuditEventRow, AuditEventsTable } from '../../db/schema.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import { createdWithin } from '../../db/team-scope.ts';

export interface AuditFilter {
  actorId?: string | undefined;
  operationId?: string | undefined;
  outcome?: 'success' | 'failure' | undefined;
  targetId?: string | undefined;
  after?: string | undefined;
  before?: string | undefined;
}

function filtered(db: Executor, filter: AuditFilter) {
  let query = db.selectFrom('audit_events');
  if (filter.actorId) query = query.where('actor_user_id', '=', filter.actorId);
  if (filter.operationId) query = query.where('operation_id', '=', filter.operationId);
  if (filter.outcome) query = query.where('outcome', '=', filter.outcome);
  if (filter.targetId) query = query.where('target_id', '=', filter.targetId);
  query = query.$call(createdWithin(filter.after, filter.before, 'at'));
  return query;
}

const sortExpression = (field: 'at' | 'id'): RawBuilder<unknown> => sql.ref(field);

export const listAuditEvents = (db: Executor, filter: AuditFilter, keys: SortKey<'at'>[], window: Window): Promise<AuditEventRow[]> =>
  pageOf(filtered(db, filter).selectAll(), keys, window, sortExpression).execute();

export async function countAuditEvents(db: Executor, filter: AuditFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export async function insertAuditEvent(db: Executor, row: Insertable<AuditEventsTable>): Promise<void> {
  await db.insertInto('audit_events').values(row).execute();
}
