import { ApiError } from '../http/errors.ts';
import type { Permission, RoleName } from './permissions.ts';

/**
 * Who is calling: a user signed in with a token, or through one of its API keys, or an enrolled agent
 * with its agent key (then `agentId` is set, `userId` is the agent's id too, and its only permission is
 * `agent:self` in its own team).
 */
export interface Caller {
  readonly userId: string;
  readonly agentId: string | null;
  readonly email: string;
  readonly role: RoleName;
  /** The role's permissions, narrowed to the key's scopes for an API key. */
  readonly permissions: ReadonlySet<Permission>;
  /** The teams whose resources the caller may see and touch. */
  readonly teamIds: readonly string[];
  readonly apiKeyId: string | null;
  /** The rate-limit tier: admins have their own; others are standard (`authenticated`) or `premium`. */
  readonly tier: 'authenticated' | 'premium' | 'admin';
  /**
   * When the credential stops being valid: an access token's `exp`, an API key's `expires_at`; `null` when
   * it does not expire. A request that lasts (the live event stream) ends then.
   */
  readonly expiresAt: Date | null;
}

/** The caller of an operation that requires a permission (the pipeline has authenticated it). */
export function requireCaller(ctx: { readonly caller: Caller | null }): Caller {
  if (!ctx.caller) throw new ApiError('AUTH_REQUIRED', 'Authentication is required');
  return ctx.caller;
}
