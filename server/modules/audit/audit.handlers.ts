import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import { AuditService } from './audit.service.ts';

// Takes the database, not the service, until server/handlers.ts passes `new AuditService(db)` as it does
// for every other module.
export function auditHandlers(db: Kysely<Database>): Pick<HandlerMap, 'listAuditEvents'> {
  const audit = new AuditService(db);
  return {
    async listAuditEvents({ query, ctx }) {
      const { items, pagination } = await audit.list(query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
  };
}
