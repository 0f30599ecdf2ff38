// Records every mutating request of an operation (POST, PUT, PATCH, DELETE) once it is answered:
// who, which operation, on what, with which request id, how it ended. Failures are recorded too
// (a refused login, a 403, a 422), so the log shows attempts as well as changes.
import type { RequestHandler } from 'express';
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Database } from '../../db/schema.ts';
import type { ApiError } from '../../http/errors.ts';
import { insertAuditEvent } from './audit.repository.ts';
import { operationsById } from '../../contract.ts';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Operations the spec marks `x-audit: false` (an agent's own telemetry). */
const NOT_AUDITED = new Set(
  [...operationsById.values()].filter((o) => (o.operation as { 'x-audit'?: boolean })['x-audit'] === false).map((o) => o.operationId),
);

/** The id a request acted on: the one it created (Location), else the last path parameter. */
function targetOf(location: string | undefined, params: Record<string, string>): string | null {
  const created = location?.split('/').at(-1);
  const fromPath = Object.values(params).at(-1);
  return (created ?? fromPath ?? null)?.slice(0, 64) ?? null;
}

export function auditRecorder(db: Kysely<Database>): RequestHandler {
  return (req, res, next) => {
    if (!MUTATING.has(req.method)) return next();
    res.on('finish', () => {
      const ctx = req.ctx;
      if (!ctx.operationId || NOT_AUDITED.has(ctx.operationId)) return;
      const attemptedEmail = ctx.operationId === 'login' && typeof req.body?.email === 'string' ? String(req.body.email).slice(0, 254) : null;
      const teamId = ctx.params.team_id ?? ctx.resourceTeamId;
      insertAuditEvent(db, {
        id: uuidv7(),
        actor_user_id: ctx.caller && !ctx.caller.agentId ? ctx.caller.userId : null,
        actor_api_key_id: ctx.caller?.apiKeyId ?? null,
        actor_email: ctx.caller?.email ?? attemptedEmail,
        operation_id: ctx.operationId,
        method: req.method,
        path: req.originalUrl.split('?')[0]!.slice(0, 2048),
        target_id: targetOf(res.getHeader('location') as string | undefined, ctx.params),
        team_id: teamId && /^[0-9a-f-]{36}$/i.test(teamId) ? teamId : null,
        request_id: ctx.requestId,
        outcome: res.statusCode < 400 ? 'success' : 'failure',
        status: res.statusCode,
        error_code: (res.locals.pendingError as ApiError | undefined)?.code ?? null,
      }).catch((err: unknown) => ctx.log.error({ err, operation_id: ctx.operationId }, 'audit event not recorded'));
    });
    next();
  };
}
