// Runs before validation for every operation of the spec: names the operation on the request, marks a
// deprecated one's answers (refusing one past its sunset with 410 RES_GONE), authenticates the caller,
// spends from its rate-limit bucket, and checks the one permission the spec requires. A missing
// credential is 401 AUTH_REQUIRED, a caller without the permission 403 PERM_DENIED, an empty bucket 429
// RATE_LIMIT_EXCEEDED.
import { Router, type Request, type Response } from 'express';
import type { Authenticator } from '../auth/authenticate.ts';
import type { Caller } from '../auth/caller.ts';
import { requiredPermissions } from '../auth/permissions.ts';
import { operationsById } from '../contract.ts';
import type { RateLimitPolicy } from '../edge/rate-limit.ts';
import { expressPath } from './bind.ts';
import { announceDeprecation, deprecations } from './deprecation.ts';
import { ApiError } from './errors.ts';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="opsdeck"' };

async function spend(limits: RateLimitPolicy, req: Request, res: Response, caller: Caller | null): Promise<void> {
  const identity = caller ? (caller.agentId ? `agent:${caller.agentId}` : caller.apiKeyId ? `api_key:${caller.apiKeyId}` : `user:${caller.userId}`) : null;
  const verdict = await limits.check(req.ctx.operationId!, { identity, tier: caller?.tier ?? null, clientIp: req.ctx.clientIp });
  if (!verdict) return;
  res.setHeader('X-RateLimit-Limit', String(verdict.limit));
  res.setHeader('X-RateLimit-Remaining', String(verdict.remaining));
  res.setHeader('X-RateLimit-Reset', String(verdict.reset));
  res.setHeader('X-RateLimit-Bucket', verdict.bucket);
  if (!verdict.allowed) {
    throw new ApiError('RATE_LIMIT_EXCEEDED', `Rate limit exceeded; retry in ${verdict.retryAfter} seconds`, {
      headers: { 'Retry-After': String(verdict.retryAfter) },
    });
  }
}

export function guardOperations(authenticator: Authenticator, limits: RateLimitPolicy): Router {
  const router = Router();
  for (const [operationId, info] of operationsById) {
    const permission = requiredPermissions.get(operationId) ?? null;
    const deprecation = deprecations.get(operationId);
    router[info.method](expressPath(info.path), async (req, res, next) => {
      req.ctx.operationId = operationId;
      req.ctx.params = { ...req.params } as Record<string, string>;
      // Before any credential is looked at: an operation past its sunset is gone for everyone. Saying so
      // spends from the client address's bucket, as bad credentials do, so it is no free flood target.
      const gone = deprecation && announceDeprecation(deprecation, req, res);
      if (gone) {
        await spend(limits, req, res, null);
        throw gone;
      }
      // `next('router')`, not `next()`: the first route that matches names the operation (literal paths
      // come first, so `/pipelines/bulk` is never also taken for `/pipelines/{pipeline_id}`); falling through
      // to the next matching route would rename it, authenticate and spend again, and check its permission too.
      if (permission === null) {
        await spend(limits, req, res, null);
        return next('router');
      }
      let caller: Caller | null;
      try {
        caller = await authenticator.authenticate(req);
      } catch (err) {
        // Bad credentials spend from the client address's bucket, so guessing them is limited too.
        await spend(limits, req, res, null);
        if (err instanceof ApiError && err.status === 401) throw new ApiError(err.code, err.message, { headers: CHALLENGE });
        throw err;
      }
      await spend(limits, req, res, caller);
      if (!caller) throw new ApiError('AUTH_REQUIRED', 'Authentication is required', { headers: CHALLENGE });
      req.ctx.caller = caller;
      req.ctx.reauthenticate = () => authenticator.authenticate(req);
      if (!caller.permissions.has(permission)) {
        throw new ApiError('PERM_DENIED', `This operation requires the permission ${permission}`);
      }
      next('router');
    });
  }
  return router;
}
