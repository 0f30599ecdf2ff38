import type { Kysely } from 'kysely';
import type { components } from '../../../generated/openapi.d.ts';
import type { AuditEventRow, Database } from '../../db/schema.ts';
import { listPage } from '../../http/list-page.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import * as repo from './audit.repository.ts';

function toAuditEvent(row: AuditEventRow): components['schemas']['AuditEvent'] {
  return {
    id: row.id,
    at: row.at.toISOString(),
    actor: { user_id: row.actor_user_id, api_key_id: row.actor_api_key_id, email: row.actor_email },
    operation_id: row.operation_id,
    method: row.method as components['schemas']['AuditEvent']['method'],
    path: row.path,
    target_id: row.target_id,
    team_id: row.team_id,
    request_id: row.request_id,
    outcome: row.outcome,
    status: row.status,
    error_code: row.error_code,
  };
}

export function auditHandlers(db: Kysely<Database>): Pick<HandlerMap, 'listAuditEvents'> {
  return {
    async listAuditEvents({ query, ctx }) {
      const filter: repo.AuditFilter = {
        actorId: query.actor_id,
        operationId: query.operation_id,
        outcome: query.outcome,
        targetId: query.target_id,
        after: query.created_after,
        before: query.created_before,
      };
      const { rows, pagination } = await listPage(query, ctx, {
        sortable: ['at'] as const,
        defaultSort: 'at:desc',
        filter,
        rows: (keys, window) => repo.listAuditEvents(db, filter, keys, window),
        count: () => repo.countAuditEvents(db, filter),
      });
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: rows.map(toAuditEvent), pagination } };
    },
  };
}
