// Runs before validation for every operation of the spec: names the operation on the request,
// authenticates the caller and checks the one permission the spec requires of it. A missing
// credential is 401 AUTH_REQUIRED; a caller without the permission is 403 PERM_DENIED.
import { Router } from 'express';
import type { Authenticator } from '../auth/authenticate.ts';
import { requiredPermissions } from '../auth/permissions.ts';
import { operationsById } from '../contract.ts';
import { expressPath } from './bind.ts';
import { ApiError } from './errors.ts';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="opsdeck"' };

export function guardOperations(authenticator: Authenticator): Router {
  const router = Router();
  for (const [operationId, info] of operationsById) {
    const permission = requiredPermissions.get(operationId) ?? null;
    router[info.method](expressPath(info.path), async (req, _res, next) => {
      req.ctx.operationId = operationId;
      req.ctx.params = { ...req.params } as Record<string, string>;
      if (permission === null) return next();
      const caller = await authenticator.authenticate(req).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) throw new ApiError(err.code, err.message, { headers: CHALLENGE });
        throw err;
      });
      if (!caller) throw new ApiError('AUTH_REQUIRED', 'Authentication is required', { headers: CHALLENGE });
      req.ctx.caller = caller;
      if (!caller.permissions.has(permission)) {
        throw new ApiError('PERM_DENIED', `This operation requires the permission ${permission}`);
      }
      next();
    });
  }
  return router;
}
