import type { Logger } from '../logger.ts';

/** What every handler knows about the request beyond its typed inputs. */
export interface RequestContext {
  readonly requestId: string;
  readonly log: Logger;
  /** Path and query as the client sent them (for pagination links). */
  readonly url: string;
  readonly startedAt: number;
}

declare module 'express-serve-static-core' {
  interface Request {
    ctx: RequestContext;
  }
}
