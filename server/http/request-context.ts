import type { Caller } from '../auth/caller.ts';
import type { Logger } from '../logger.ts';

/** What every handler knows about the request beyond its typed inputs. */
export interface RequestContext {
  readonly requestId: string;
  readonly log: Logger;
  /** Path and query as the client sent them (for pagination links). */
  readonly url: string;
  readonly startedAt: number;
  /** The client's address (behind a proxy only when `TRUST_PROXY` says to believe X-Forwarded-For). */
  readonly clientIp: string;
  /** The operation the request matched, once the guard has run. */
  operationId: string | null;
  /** The authenticated caller, or `null` (public operation, or not yet authenticated). */
  caller: Caller | null;
  /**
   * Authenticates the request's credential again, as it stands now (for answers that outlive the request's
   * start, such as event streams); throws as authentication does when it no longer holds.
   */
  reauthenticate: (() => Promise<Caller | null>) | null;
  /** The path parameters of the matched operation. */
  params: Record<string, string>;
  /** The team of the resource the request acted on, when the answer names one (for the audit log). */
  resourceTeamId: string | null;
  /** From a matched If-Match: the `updated_at` the write must still find, so a racing write cannot slip in. */
  expectedUpdatedAt: string | null;
}

declare module 'express-serve-static-core' {
  interface Request {
    ctx: RequestContext;
  }
}
