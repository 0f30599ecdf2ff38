// The audit log for administrators: filtered and paged like every list, newest first by default.
// (audit-recorder.ts writes it.)
import type { Kysely } from 'kysely';
import type { operations } from '../../../generated/openapi.d.ts';
import type { Database } from '../../db/schema.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { toAuditEvent, type AuditEvent } from './audit.mapper.ts';
import * as repo from './audit.repository.ts';

export type AuditListQuery = NonNullable<operations['listAuditEvents']['parameters']['query']>;

export class AuditService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(query: AuditListQuery, ctx: RequestContext): Promise<{ items: AuditEvent[]; pagination: Pagination }> {
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
      rows: (keys, window) => repo.listAuditEvents(this.#db, filter, keys, window),
      count: () => repo.countAuditEvents(this.#db, filter),
    });
    return { items: rows.map(toAuditEvent), pagination };
  }
}
