// Turns the request's credentials into a Caller: a bearer access token (JWT) or an API key. No
// credentials → null (the guard then answers 401 where a permission is required); bad ones → 401.
import type { Request } from 'express';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { ApiError } from '../http/errors.ts';
import * as apiKeys from '../modules/api-keys/api-keys.repository.ts';
import { findCaller } from '../modules/users/users.repository.ts';
import { findAgentKey } from '../modules/agent-protocol/agent-protocol.repository.ts';
import type { Caller } from './caller.ts';
import { permissionsOf, type Permission } from './permissions.ts';
import { sameDigest, sha256 } from './secrets.ts';
import type { TokenService } from './tokens.ts';

/** `opk_<8 characters>_<secret>`: the prefix finds the key, the whole key is checked against its digest. */
export const API_KEY_PATTERN = /^(opk_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{20,100}$/;
export const AGENT_KEY_PATTERN = /^(oak_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{20,100}$/;

type CallerRow = NonNullable<Awaited<ReturnType<typeof findCaller>>>;

function identity(user: CallerRow): Pick<Caller, 'userId' | 'agentId' | 'email' | 'role' | 'teamIds' | 'tier'> {
  const tier = user.role === 'admin' ? 'admin' : user.rate_tier === 'premium' ? 'premium' : 'authenticated';
  return { userId: user.id, agentId: null, email: user.email, role: user.role, teamIds: user.team_ids, tier };
}

const AGENT_PERMISSIONS: ReadonlySet<Permission> = new Set(['agent:self']);

const invalid = (what: string) => new ApiError('AUTH_INVALID_TOKEN', `The ${what} is not valid`);

export class Authenticator {
  readonly #db: Kysely<Database>;
  readonly #tokens: TokenService;

  constructor(db: Kysely<Database>, tokens: TokenService) {
    this.#db = db;
    this.#tokens = tokens;
  }

  async authenticate(req: Request): Promise<Caller | null> {
    const authorization = req.get('authorization');
    const apiKey = req.get('x-api-key');
    if (authorization !== undefined && apiKey !== undefined) throw new ApiError('AUTH_INVALID_TOKEN', 'Send either a bearer token or an API key, not both');
    if (authorization !== undefined) return this.#bearer(authorization);
    if (apiKey !== undefined) return this.#apiKey(apiKey);
    return null;
  }

  async #bearer(header: string): Promise<Caller> {
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) throw invalid('Authorization header');
    const claims = await this.#tokens.verifyAccess(match[1]!);
    const user = await findCaller(this.#db, claims.userId);
    if (!user || !user.active) throw invalid('access token');
    // A password change signs out every token issued before it (to the second: `iat` has no finer grain).
    if (claims.issuedAt < Math.floor(user.password_changed_at.getTime() / 1000)) throw invalid('access token');
    return { ...identity(user), permissions: permissionsOf(user.role), apiKeyId: null, expiresAt: new Date(claims.expiresAt * 1000) };
  }

  async #apiKey(key: string): Promise<Caller> {
    if (key.startsWith('oak_')) return this.#agentKey(key);
    const match = API_KEY_PATTERN.exec(key);
    if (!match) throw invalid('API key');
    const row = await apiKeys.findKeyForAuth(this.#db, match[1]!);
    if (!row || !sameDigest(sha256(key), row.secret_hash) || row.revoked_at !== null) throw invalid('API key');
    if (row.expires_at !== null && row.expires_at.getTime() <= Date.now()) throw new ApiError('AUTH_EXPIRED_TOKEN', 'The API key has expired');
    const user = await findCaller(this.#db, row.user_id);
    if (!user || !user.active) throw invalid('API key');
    // A key never grants more than its owner's role grants now, whatever scopes it was made with.
    const granted = permissionsOf(user.role);
    const permissions = new Set<Permission>(row.scopes.filter((scope) => granted.has(scope)));
    await apiKeys.touchApiKey(this.#db, row.id);
    return { ...identity(user), permissions, apiKeyId: row.id, expiresAt: row.expires_at };
  }

  /** An enrolled agent's own key: it may act as that agent and nothing else. */
  async #agentKey(key: string): Promise<Caller> {
    const match = AGENT_KEY_PATTERN.exec(key);
    if (!match) throw invalid('agent key');
    const row = await findAgentKey(this.#db, match[1]!);
    if (!row || !sameDigest(sha256(key), row.secret_hash) || row.revoked_at !== null) throw invalid('agent key');
    return {
      userId: row.agent_id,
      agentId: row.agent_id,
      email: `agent:${row.hostname}`,
      role: 'viewer',
      permissions: AGENT_PERMISSIONS,
      teamIds: [row.team_id],
      apiKeyId: null,
      tier: 'authenticated',
      expiresAt: null,
    };
  }
}
