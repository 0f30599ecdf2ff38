// Configuration, read once from the environment, validated and frozen. A bad value stops start-up
// with a message that names the variable.
import { readFileSync } from 'node:fs';
export interface Config {
  readonly env: 'development' | 'test' | 'production';
  readonly host: string;
  readonly port: number;
  /** PostgreSQL connection string; unset means the embedded PGlite database in `pgliteDir`. */
  readonly databaseUrl: string | undefined;
  readonly pgliteDir: string;
  readonly dbPoolMax: number;
  /** How long a query or a connection attempt may take before the request fails with 503. */
  readonly dbTimeoutMs: number;
  /** DATABASE_URL is a pooler in transaction mode (PgBouncer `pool_mode=transaction`): no session settings at connection. */
  readonly dbTransactionPooling: boolean;
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis key, so several deployments (or test runs) can share one Redis. */
  readonly redisKeyPrefix: string;
  /** Refuse to fall back to embedded backends (CI proves the real ones). */
  readonly requireExternalBackends: boolean;
  readonly validateResponses: boolean;
  readonly bodyLimitBytes: number;
  readonly logLevel: string;
  readonly shutdownGraceMs: number;
  /** How long readiness fails before the listener closes, so load balancers stop sending traffic first. */
  readonly shutdownDelayMs: number;
  readonly publicUrl: string | undefined;
  /** Express's `trust proxy`: which X-Forwarded-For hops to believe for the client address (default none). */
  readonly trustProxy: boolean | number | string;
  /** An agent silent this long turns offline, and its running tasks fail. */
  readonly heartbeatTimeoutSeconds: number;
  /** How often the sweeper looks for silent agents. */
  readonly sweepIntervalMs: number;
  readonly rateLimitsEnabled: boolean;
  /** The longest a request waits for the rate limiter before it is allowed anyway (Redis slow or away). */
  readonly rateLimitTimeoutMs: number;
  /** JSON overriding the spec's `x-rate-limits` tiers and limiters, e.g. for tests or a bigger deployment. */
  readonly rateLimitOverrides: { tiers?: Record<string, { requests_per_minute: number; burst: number }>; limiters?: Record<string, { requests_per_minute: number; burst: number }> };
  /** Browser origins allowed to call the API (CORS); none by default. */
  readonly corsOrigins: readonly string[];
  /** HS256 key of access tokens; unset outside production means a random key per process. */
  readonly jwtSecret: string | undefined;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  /** The first administrator, created at start-up when no user exists. */
  readonly initialAdminEmail: string | undefined;
  readonly initialAdminPassword: string | undefined;
  /** OPSDECK_AUTH_POLICY_RESET: empty the authentication policy at start (the way back in after a lock-out). */
  readonly authPolicyReset: boolean;
  /** Demo teams, users and agents in an empty database (default: on for the embedded database). */
  readonly demoData: boolean;
  /** Simulated hosts the server runs against itself, so a new user sees a living fleet (default 3 with demo data). */
  readonly demoAgents: number;
  /** Run the background workers (sweeper, outbox dispatcher, webhook deliverer); off for API-only processes. */
  readonly backgroundWorkers: boolean;
  /** Server processes on this host sharing the port (Node's cluster; web-concurrency.ts); 1: this process alone. */
  readonly webConcurrency: number;
  /** How often the outbox dispatcher looks for new events. */
  readonly outboxPollMs: number;
  /** How often each process's scheduler looks for task schedules that are due (and how late a due time may be found before it counts as missed). */
  readonly schedulerTickMs: number;
  /** SMTP_URL: the relay that sends `email` notification channels' mails (`smtp://user:password@host:port`, `smtps://…`); unset: no email channels. */
  readonly smtpUrl: string | undefined;
  /** SMTP_FROM: the sender of notification mails. */
  readonly smtpFrom: string;
  /** ALERT_EVALUATION_INTERVAL_MS: how often each enabled alert rule is evaluated. */
  readonly alertEvaluationIntervalMs: number;
  /** JSON overriding the spec's `x-webhook-delivery` policy (timeouts, attempts, backoff), e.g. for tests. */
  readonly webhookDeliveryOverrides: Record<string, number>;
  /** Deliver webhooks to private, loopback and link-local addresses (tests, on-premises receivers). */
  readonly webhookAllowPrivateTargets: boolean;
  /** JSON overriding the spec's `x-event-stream` policy (keep-alive, retry, replay), e.g. for tests. */
  readonly eventStreamOverrides: Record<string, number>;
  /** 32 bytes (base64 or hex) that encrypt stored secrets such as webhook signing keys; required in production. */
  readonly secretsKey: Buffer | undefined;
  /** METRICS_TOKEN: the bearer token GET /metrics requires (`metricsToken`); unset: the metrics are open. */
  readonly metricsToken: string | undefined;
  /** OpenTelemetry tracing, on when an OTLP endpoint is set (the SDK reads the other OTEL_* variables itself); undefined: off. */
  readonly tracing: TracingConfig | undefined;
  /** Sign-in through GitHub and OpenID Connect (server/modules/identity-providers/); a provider left unset is off. */
  readonly oauth: OAuthConfig;
  /**
   * TLS_CERT, TLS_KEY, TLS_PORT: the optional TLS listener beside the plain one (same app), where agents may
   * authenticate by mutual TLS with a certificate of the Opsdeck CA; undefined: no TLS listener.
   */
  readonly tls: TlsConfig | undefined;
}

/** A provider's group (GitHub `org` or `org/team`, an OIDC group) → the Opsdeck team (id or name) and role it grants. */
export type TeamMap = Readonly<Record<string, { readonly team: string; readonly role: 'admin' | 'operator' | 'viewer' }>>;

export interface OAuthConfig {
  /** OAUTH_REDIRECT_URIS: where a finished sign-in may send the browser (compared exactly). */
  readonly redirectUris: readonly string[];
  readonly stateTtlSeconds: number;
  readonly codeTtlSeconds: number;
  /** How long one request to a provider may take before the sign-in fails with 503. */
  readonly providerTimeoutMs: number;
  readonly github: GithubProviderConfig | undefined;
  readonly oidc: OidcProviderConfig | undefined;
}

export interface GithubProviderConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  readonly apiUrl: string;
  readonly teamMap: TeamMap;
}

export interface OidcProviderConfig {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly scopes: string;
  readonly groupsClaim: string;
  readonly teamMap: TeamMap;
}

export interface TlsConfig {
  /** The server's certificate chain and key, PEM. */
  readonly cert: string;
  readonly key: string;
  /** 0: any free port. */
  readonly port: number;
}

/** How spans are exported (observability/tracing.ts). */
export interface TracingConfig {
  readonly protocol: 'http/protobuf' | 'http/json';
}

type Env = Record<string, string | undefined>;

/** A configuration value that cannot be used; `variable` names it. Start-up reports it in one line, without a stack. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(message);
    this.variable = variable;
  }
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** WEB_CONCURRENCY: several processes need what they can share, a PostgreSQL server and Redis (for live events and limits). */
function webConcurrency(env: Env): number {
  const count = integer(env, 'WEB_CONCURRENCY', 1, 1, 256);
  if (count > 1 && (!env.DATABASE_URL || !env.REDIS_URL)) {
    throw new ConfigError('WEB_CONCURRENCY', 'WEB_CONCURRENCY above 1 needs DATABASE_URL and REDIS_URL: the embedded database and the in-process event bus serve one process');
  }
  return count;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `${name} must be true or false, got "${raw}"`);
}

function secretsKey(env: Env, mode: Config['env']): Buffer | undefined {
  const raw = env.SECRETS_KEY || undefined;
  if (raw === undefined) {
    if (mode === 'production') throw new ConfigError('SECRETS_KEY', 'SECRETS_KEY is required in production (32 bytes, base64 or hex)');
    return undefined;
  }
  const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new ConfigError('SECRETS_KEY', 'SECRETS_KEY must be 32 bytes, as 64 hex digits or base64');
  return key;
}

/** A PEM given inline (`-----BEGIN …`) or as the path of a file holding it. */
function pem(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let text: string;
  try {
    text = raw.startsWith('-----BEGIN') ? raw.replace(/\\n/g, '\n') : readFileSync(raw, 'utf8');
  } catch {
    throw new ConfigError(name, `${name} must be PEM or the path of a readable PEM file, got "${raw.slice(0, 80)}"`);
  }
  if (!text.includes('-----BEGIN')) throw new ConfigError(name, `${name} holds no PEM block`);
  return text;
}

function tls(env: Env): TlsConfig | undefined {
  const cert = pem(env, 'TLS_CERT');
  const key = pem(env, 'TLS_KEY');
  if (cert === undefined && key === undefined) {
    if (env.TLS_PORT) throw new ConfigError('TLS_PORT', 'TLS_PORT is set but TLS_CERT and TLS_KEY are not');
    return undefined;
  }
  if (cert === undefined || key === undefined) throw new ConfigError(cert === undefined ? 'TLS_CERT' : 'TLS_KEY', 'TLS_CERT and TLS_KEY are set together');
  return { cert, key, port: integer(env, 'TLS_PORT', 8443, 0, 65535) };
}

function nodeEnv(raw: string | undefined): Config['env'] {
  if (raw === undefined || raw === '' || raw === 'development') return 'development';
  if (raw === 'test' || raw === 'production') return raw;
  throw new ConfigError('NODE_ENV', `NODE_ENV must be development, test or production, got "${raw}"`);
}

function json(env: Env, name: string): Record<string, never> {
  const raw = env[name];
  if (raw === undefined || raw === '') return {};
  try {
    const value = JSON.parse(raw) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, never>;
  } catch {
    // reported below
  }
  throw new ConfigError(name, `${name} must be a JSON object`);
}

/**
 * Tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, unless
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`; spans go over OTLP/HTTP, protobuf or JSON.
 */
function tracing(env: Env): TracingConfig | undefined {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter && exporter !== 'otlp') throw new ConfigError('OTEL_TRACES_EXPORTER', `OTEL_TRACES_EXPORTER must be otlp or none, got "${exporter}"`);
  const name = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = env[name]?.trim() || 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') throw new ConfigError(name, `${name} must be http/protobuf or http/json (grpc is not supported), got "${protocol}"`);
  return { protocol };
}

function metricsToken(env: Env): string | undefined {
  const value = env.METRICS_TOKEN || undefined;
  if (value !== undefined && !/^[\x21-\x7e]{16,512}$/.test(value)) {
    throw new ConfigError('METRICS_TOKEN', 'METRICS_TOKEN must be 16 to 512 printable characters without spaces');
  }
  return value;
}

function trustProxy(raw: string | undefined): boolean | number | string {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

function secret(env: Env, mode: Config['env']): string | undefined {
  const value = env.JWT_SECRET || undefined;
  if (value !== undefined && Buffer.byteLength(value) < 32) throw new ConfigError('JWT_SECRET', 'JWT_SECRET must be at least 32 bytes');
  if (value === undefined && mode === 'production') throw new ConfigError('JWT_SECRET', 'JWT_SECRET is required in production');
  return value;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An absolute https URL (http only on a loopback address, for tests and local providers), without a fragment. */
function providerUrl(env: Env, name: string, fallback?: string): string {
  const raw = env[name] || fallback;
  if (raw === undefined) throw new ConfigError(name, `${name} is required`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `${name} must be an absolute URL, got "${raw}"`);
  }
  if (url.hash || !(url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)))) {
    throw new ConfigError(name, `${name} must be an https URL (http only on a loopback address) without a fragment, got "${raw}"`);
  }
  return raw;
}

function teamMap(env: Env, name: string): TeamMap {
  const value = json(env, name) as Record<string, unknown>;
  const map: Record<string, { team: string; role: 'admin' | 'operator' | 'viewer' }> = {};
  for (const [group, grant] of Object.entries(value)) {
    const { team, role = 'viewer' } = (grant ?? {}) as { team?: unknown; role?: unknown };
    if (typeof team !== 'string' || team === '' || (role !== 'admin' && role !== 'operator' && role !== 'viewer')) {
      throw new ConfigError(name, `${name}: "${group}" must map to {"team": "<team id or name>", "role": "admin" | "operator" | "viewer"}`);
    }
    map[group] = { team, role };
  }
  return map;
}

function oauth(env: Env): OAuthConfig {
  const redirectUris = (env.OAUTH_REDIRECT_URIS ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  for (const uri of redirectUris) {
    let url: URL | undefined;
    try {
      url = new URL(uri);
    } catch {
      // reported below
    }
    if (!url || url.hash || !['https:', 'http:'].includes(url.protocol)) {
      throw new ConfigError('OAUTH_REDIRECT_URIS', `OAUTH_REDIRECT_URIS must be absolute http(s) URLs without fragments, separated by commas; got "${uri}"`);
    }
  }
  const both = (a: string, b: string): boolean => {
    if (!env[a] !== !env[b]) throw new ConfigError(env[a] ? b : a, `${a} and ${b} go together: set both or neither`);
    return Boolean(env[a]);
  };
  const github: GithubProviderConfig | undefined = both('GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET')
    ? {
        clientId: env.GITHUB_CLIENT_ID!,
        clientSecret: env.GITHUB_CLIENT_SECRET!,
        authorizeUrl: providerUrl(env, 'GITHUB_AUTHORIZE_URL', 'https://github.com/login/oauth/authorize'),
        tokenUrl: providerUrl(env, 'GITHUB_TOKEN_URL', 'https://github.com/login/oauth/access_token'),
        apiUrl: providerUrl(env, 'GITHUB_API_URL', 'https://api.github.com'),
        teamMap: teamMap(env, 'GITHUB_TEAM_MAP'),
      }
    : undefined;
  const oidc: OidcProviderConfig | undefined = both('OIDC_ISSUER', 'OIDC_CLIENT_ID')
    ? {
        issuer: providerUrl(env, 'OIDC_ISSUER'),
        clientId: env.OIDC_CLIENT_ID!,
        clientSecret: env.OIDC_CLIENT_SECRET || undefined,
        scopes: env.OIDC_SCOPES || 'openid email profile',
        groupsClaim: env.OIDC_GROUPS_CLAIM || 'groups',
        teamMap: teamMap(env, 'OIDC_TEAM_MAP'),
      }
    : undefined;
  if ((github || oidc) && !env.PUBLIC_URL) {
    throw new ConfigError('PUBLIC_URL', 'PUBLIC_URL is required with GITHUB_CLIENT_ID or OIDC_ISSUER: the providers send the browser back to <PUBLIC_URL>/api/v1/auth/oauth/<provider>/callback');
  }
  return {
    redirectUris,
    stateTtlSeconds: integer(env, 'OAUTH_STATE_TTL_SECONDS', 600, 30, 3600),
    codeTtlSeconds: integer(env, 'OAUTH_CODE_TTL_SECONDS', 60, 5, 600),
    providerTimeoutMs: integer(env, 'OAUTH_PROVIDER_TIMEOUT_MS', 5000, 100, 60_000),
    github,
    oidc,
  };
}

export function loadConfig(env: Env = process.env): Config {
  const mode = nodeEnv(env.NODE_ENV);
  return Object.freeze({
    env: mode,
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 8080, 0, 65535),
    databaseUrl: env.DATABASE_URL || undefined,
    pgliteDir: env.PGLITE_DIR || '.data/pglite',
    dbPoolMax: integer(env, 'DB_POOL_MAX', 10, 1, 200),
    dbTimeoutMs: integer(env, 'DB_TIMEOUT_MS', 3000, 100, 60000),
    dbTransactionPooling: flag(env, 'DATABASE_TRANSACTION_POOLING', false),
    redisUrl: env.REDIS_URL || undefined,
    redisKeyPrefix: env.REDIS_KEY_PREFIX || 'opsdeck:',
    requireExternalBackends: flag(env, 'OPSDECK_REQUIRE_EXTERNAL_BACKENDS', false),
    validateResponses: flag(env, 'VALIDATE_RESPONSES', mode !== 'production'),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024, 50 * 1_048_576),
    logLevel: env.LOG_LEVEL || (mode === 'test' ? 'warn' : 'info'),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10000, 0, 120000),
    shutdownDelayMs: integer(env, 'SHUTDOWN_DELAY_MS', 0, 0, 60000),
    publicUrl: env.PUBLIC_URL || undefined,
    trustProxy: trustProxy(env.TRUST_PROXY),
    heartbeatTimeoutSeconds: integer(env, 'HEARTBEAT_TIMEOUT_SECONDS', 90, 1, 86400),
    sweepIntervalMs: integer(env, 'SWEEP_INTERVAL_MS', 15000, 100, 3600000),
    rateLimitsEnabled: flag(env, 'RATE_LIMITS_ENABLED', true),
    rateLimitTimeoutMs: integer(env, 'RATE_LIMIT_TIMEOUT_MS', 150, 10, 10_000),
    rateLimitOverrides: json(env, 'RATE_LIMITS'),
    corsOrigins: (env.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    jwtSecret: secret(env, mode),
    accessTokenTtlSeconds: integer(env, 'ACCESS_TOKEN_TTL_SECONDS', 900, 10, 86400),
    refreshTokenTtlSeconds: integer(env, 'REFRESH_TOKEN_TTL_SECONDS', 30 * 86400, 60, 365 * 86400),
    initialAdminEmail: env.OPSDECK_ADMIN_EMAIL || undefined,
    initialAdminPassword: env.OPSDECK_ADMIN_PASSWORD || undefined,
    authPolicyReset: flag(env, 'OPSDECK_AUTH_POLICY_RESET', false),
    demoData: flag(env, 'OPSDECK_DEMO_DATA', !env.DATABASE_URL),
    backgroundWorkers: flag(env, 'BACKGROUND_WORKERS', true),
    webConcurrency: webConcurrency(env),
    outboxPollMs: integer(env, 'OUTBOX_POLL_MS', 200, 10, 60_000),
    schedulerTickMs: integer(env, 'SCHEDULER_TICK_MS', 1000, 50, 60_000),
    smtpUrl: env.SMTP_URL || undefined,
    smtpFrom: env.SMTP_FROM || 'Opsdeck <opsdeck@localhost>',
    alertEvaluationIntervalMs: integer(env, 'ALERT_EVALUATION_INTERVAL_MS', 10_000, 100, 3_600_000),
    webhookDeliveryOverrides: json(env, 'WEBHOOK_DELIVERY'),
    webhookAllowPrivateTargets: flag(env, 'WEBHOOK_ALLOW_PRIVATE_TARGETS', false),
    eventStreamOverrides: json(env, 'EVENT_STREAM'),
    secretsKey: secretsKey(env, mode),
    metricsToken: metricsToken(env),
    tracing: tracing(env),
    oauth: oauth(env),
    tls: tls(env),
    demoAgents: integer(env, 'OPSDECK_DEMO_AGENTS', flag(env, 'OPSDECK_DEMO_DATA', !env.DATABASE_URL) ? 3 : 0, 0, 100),
  });
}
