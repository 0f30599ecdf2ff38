// Stores the audit record the pipeline's last step hands over (server/http/pipeline.ts, `audit`): who, which
// operation, on what, with which request id, how it ended. Failures are recorded too (a refused login, a
// 403, a 422), so the log shows attempts as well as changes. Writing it never holds up or fails the answer.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Database } from '../../db/schema.ts';
import type { AuditSink } from '../../http/pipeline.ts';
import { insertAuditEvent } from './audit.repository.ts';

export function auditSink(db: Kysely<Database>): AuditSink {
  return {
    record(entry, log) {
      insertAuditEvent(db, {
        id: uuidv7(),
        actor_user_id: entry.caller && !entry.caller.agentId ? entry.caller.userId : null,
        actor_api_key_id: entry.caller?.apiKeyId ?? null,
        actor_email: entry.caller?.email ?? entry.attemptedEmail,
        operation_id: entry.operationId,
        method: entry.method,
        path: entry.path,
        target_id: entry.targetId,
        team_id: entry.teamId,
        request_id: entry.requestId,
        outcome: entry.status < 400 ? 'success' : 'failure',
        status: entry.status,
        error_code: entry.errorCode,
      }).catch((err: unknown) => log.error({ err, operation_id: entry.operationId }, 'audit event not recorded'));
    },
  };
}
