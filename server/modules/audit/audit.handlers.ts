import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { AuditService } from './audit.service.ts';

export function auditHandlers(audit: AuditService): Pick<HandlerMap, 'listAuditEvents'> {
  return {
    async listAuditEvents({ query, ctx }) {
      const { items, pagination } = await audit.list(query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
  };
}
