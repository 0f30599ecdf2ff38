// Static bearer tokens: a security scheme of the contract that is one token the operator configures, not a
// caller with permissions (`metricsToken`, for `getMetrics`, from METRICS_TOKEN). With no token configured,
// the operation needs no credential (the contract's `{}` requirement beside the scheme); with one, the
// request must carry it as `Authorization: Bearer <token>`, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.ts';
import type { StaticTokenScheme } from './operation-table.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

export class StaticTokens {
  readonly #digests: ReadonlyMap<StaticTokenScheme, Buffer>;

  constructor(tokens: Partial<Record<StaticTokenScheme, string | undefined>>) {
    this.#digests = new Map(
      Object.entries(tokens).flatMap(([scheme, token]) => (token ? [[scheme as StaticTokenScheme, digest(token)] as const] : [])),
    );
  }

  /** Throws 401 (with its challenge) unless the scheme has no token configured or `authorization` carries it. */
  check(scheme: StaticTokenScheme, authorization: string | undefined): void {
    const expected = this.#digests.get(scheme);
    if (!expected) return;
    const challenge = { headers: { 'WWW-Authenticate': `Bearer realm="opsdeck-${scheme}"` } };
    const match = authorization === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new ApiError('AUTH_REQUIRED', `This operation requires the ${scheme} bearer token`, challenge);
    if (!timingSafeEqual(digest(match[1]!), expected)) throw new ApiError('AUTH_INVALID_TOKEN', `The ${scheme} bearer token is not valid`, challenge);
  }
}
