import type { RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.ts';

const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Takes the caller's X-Request-ID when it is a sane token, else makes one; sets up `req.ctx`. */
export function requestContext(log: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given && SANE_REQUEST_ID.test(given) ? given : `req_${randomUUID()}`;
    res.setHeader('X-Request-ID', requestId);
    let child: Logger | undefined;
    req.ctx = {
      requestId,
      // Made on first use: most requests log one access line at most, and a child logger per request is not free.
      get log() {
        return (child ??= log.child({ request_id: requestId }));
      },
      url: req.originalUrl,
      startedAt: performance.now(),
      clientIp: req.ip ?? req.socket.remoteAddress ?? 'unknown',
      operationId: null,
      caller: null,
      params: {},
      resourceTeamId: null,
      expectedUpdatedAt: null,
      reauthenticate: null,
    };
    next();
  };
}
