// Turns the request's credentials into a Caller: a bearer access token (JWT), an API key, or an agent key.
// No credentials → null (the pipeline then answers 401 where a permission is required); bad ones → 401.
// Who a credential belongs to comes from a CallerDirectory, an interface declared here and implemented by
// the users, API keys and agent-protocol repositories (wired in app.ts), behind the per-process cache of
// caller-cache.ts; so auth/ depends on no module.
import type { components } from '../../generated/openapi.d.ts';
import { ApiError } from '../http/errors.ts';
import type { Caller } from './caller.ts';
import { permissionsOf, type Permission } from './permissions.ts';
import { sameDigest, sha256 } from './secrets.ts';
import type { TokenService } from './tokens.ts';

/** `opk_<8 characters>_<secret>`: the prefix finds the key, the whole key is checked against its digest. */
export const API_KEY_PATTERN = /^(opk_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{20,100}$/;
export const AGENT_KEY_PATTERN = /^(oak_[A-Za-z0-9]{8})_[A-Za-z0-9_-]{20,100}$/;

/** A user as authentication needs it. */
export interface UserIdentity {
  id: string;
  email: string;
  role: components['schemas']['RoleName'];
  rate_tier: string;
  active: boolean;
  password_changed_at: Date;
  team_ids: string[];
}

export interface ApiKeyIdentity {
  id: string;
  user_id: string;
  secret_hash: string;
  scopes: string[];
  expires_at: Date | null;
  revoked_at: Date | null;
}

export interface AgentKeyIdentity {
  secret_hash: string;
  revoked_at: Date | null;
  agent_id: string;
  team_id: string;
  hostname: string;
}

/** An agent certificate as mutual TLS needs it (serial numbers and fingerprints lowercase hexadecimal). */
export interface AgentCertificateIdentity {
  serial_number: string;
  fingerprint_sha256: string;
  agent_id: string;
  team_id: string;
  hostname: string;
  revoked_at: Date | null;
  not_after: Date;
}

/** Where authentication finds who a credential belongs to. */
export interface CallerDirectory {
  findUser(userId: string): Promise<UserIdentity | undefined>;
  findApiKey(prefix: string): Promise<ApiKeyIdentity | undefined>;
  findAgentKey(prefix: string): Promise<AgentKeyIdentity | undefined>;
  /** The agent certificate of this serial number (mutual TLS). */
  findAgentCertificate(serialNumber: string): Promise<AgentCertificateIdentity | undefined>;
  /** Records that an API key was used (at most once a minute; the implementation decides). */
  touchApiKey(id: string): Promise<void>;
}

/** The credentials of a request, as the pipeline reads them from its headers. */
export interface Credentials {
  authorization: string | undefined;
  apiKey: string | undefined;
  /**
   * The client certificate of the request's TLS connection (the TLS listener, mutual TLS): one that chains to the
   * Opsdeck CA and is within its validity (by serial number and fingerprint), `'refused'` when one was presented
   * that does not, absent on a plain connection or when none was presented.
   */
  clientCertificate?: { serialNumber: string; fingerprint256: string } | 'refused' | undefined;
}

/**
 * A credential presented as one string (the live WebSocket's `auth` message): an API key or an agent key by its
 * pattern, else an access token, as the headers would carry them.
 */
export function presentedCredentials(token: string): Credentials {
  const isKey = API_KEY_PATTERN.test(token) || AGENT_KEY_PATTERN.test(token);
  return isKey ? { authorization: undefined, apiKey: token } : { authorization: `Bearer ${token}`, apiKey: undefined };
}

function identity(user: UserIdentity): Pick<Caller, 'userId' | 'agentId' | 'email' | 'role' | 'teamIds' | 'tier'> {
  const tier = user.role === 'admin' ? 'admin' : user.rate_tier === 'premium' ? 'premium' : 'authenticated';
  return { userId: user.id, agentId: null, email: user.email, role: user.role, teamIds: user.team_ids, tier };
}

const AGENT_PERMISSIONS: ReadonlySet<Permission> = new Set(['agent:self']);

/** An enrolled agent acting as itself (by its key or its certificate): that agent, and nothing else. */
function agentCaller(agent: { agent_id: string; team_id: string; hostname: string }, expiresAt: Date | null): Caller {
  return {
    userId: agent.agent_id,
    agentId: agent.agent_id,
    email: `agent:${agent.hostname}`,
    role: 'viewer',
    permissions: AGENT_PERMISSIONS,
    teamIds: [agent.team_id],
    apiKeyId: null,
    tier: 'authenticated',
    expiresAt,
  };
}

const invalid = (what: string) => new ApiError('AUTH_INVALID_TOKEN', `The ${what} is not valid`);

export class Authenticator {
  readonly #directory: CallerDirectory;
  readonly #tokens: TokenService;

  constructor(directory: CallerDirectory, tokens: TokenService) {
    this.#directory = directory;
    this.#tokens = tokens;
  }

  async authenticate({ authorization, apiKey, clientCertificate }: Credentials): Promise<Caller | null> {
    if (authorization !== undefined && apiKey !== undefined) throw new ApiError('AUTH_INVALID_TOKEN', 'Send either a bearer token or an API key, not both');
    if (authorization !== undefined) return this.#bearer(authorization);
    if (apiKey !== undefined) return apiKey.startsWith('oak_') ? this.#agentKey(apiKey) : this.#apiKey(apiKey);
    if (clientCertificate === 'refused') throw invalid('client certificate');
    if (clientCertificate !== undefined) return this.#certificate(clientCertificate);
    return null;
  }

  /**
   * An agent's certificate, presented in the TLS handshake (which checked that it chains to the Opsdeck CA and
   * is within its validity): it acts as its agent, like the agent's key, while it is not revoked. Checked on every
   * request, through the caller cache that follows the change feed: a revocation is seen within 1 s.
   */
  async #certificate(presented: { serialNumber: string; fingerprint256: string }): Promise<Caller> {
    const row = await this.#directory.findAgentCertificate(presented.serialNumber);
    if (!row || row.fingerprint_sha256 !== presented.fingerprint256 || row.revoked_at !== null || row.not_after.getTime() <= Date.now()) {
      throw invalid('client certificate');
    }
    return agentCaller(row, row.not_after);
  }

  async #bearer(header: string): Promise<Caller> {
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) throw invalid('Authorization header');
    const claims = await this.#tokens.verifyAccess(match[1]!);
    const user = await this.#directory.findUser(claims.userId);
    if (!user || !user.active) throw invalid('access token');
    // A password change signs out every token issued before it: the token names the password version it was
    // issued under (to the millisecond), so one issued in the same second as the change is refused too.
    if (!this.#tokens.issuedUnder(claims, user.password_changed_at)) throw invalid('access token');
    return { ...identity(user), permissions: permissionsOf(user.role), apiKeyId: null, expiresAt: new Date(claims.expiresAt * 1000) };
  }

  async #apiKey(key: string): Promise<Caller> {
    const match = API_KEY_PATTERN.exec(key);
    if (!match) throw invalid('API key');
    const row = await this.#directory.findApiKey(match[1]!);
    if (!row || !sameDigest(sha256(key), row.secret_hash) || row.revoked_at !== null) throw invalid('API key');
    if (row.expires_at !== null && row.expires_at.getTime() <= Date.now()) throw new ApiError('AUTH_EXPIRED_TOKEN', 'The API key has expired');
    const user = await this.#directory.findUser(row.user_id);
    if (!user || !user.active) throw invalid('API key');
    // A key never grants more than its owner's role grants now, whatever scopes it was made with.
    const granted = permissionsOf(user.role);
    const permissions = new Set<Permission>(row.scopes.filter((scope): scope is Permission => granted.has(scope as Permission)));
    await this.#directory.touchApiKey(row.id);
    return { ...identity(user), permissions, apiKeyId: row.id, expiresAt: row.expires_at };
  }

  /** An enrolled agent's own key: it may act as that agent and nothing else. */
  async #agentKey(key: string): Promise<Caller> {
    const match = AGENT_KEY_PATTERN.exec(key);
    if (!match) throw invalid('agent key');
    const row = await this.#directory.findAgentKey(match[1]!);
    if (!row || !sameDigest(sha256(key), row.secret_hash) || row.revoked_at !== null) throw invalid('agent key');
    return agentCaller(row, null);
  }
}
