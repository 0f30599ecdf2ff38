// The operation table: the spec read once, at start-up, into one typed entry per operationId. Everything the
// request pipeline (pipeline.ts) needs to know about an operation is here, decided before the first request:
// its route, the permission it requires, its rate-limit rule, whether it is audited, its Cache-Control, its
// deprecation, whether it takes an Idempotency-Key, the GET that If-Match is compared against, its header
// parameters and statuses. The extensions were checked against their schemas when the contract loaded
// (extensions.ts); here they are checked against each other (a limiter that exists, a successor that is an
// operation, one known permission), and a declaration the server cannot honour fails the start, naming the
// operation and the extension.
import type { components } from '../../generated/openapi.d.ts';
import { operationsById, resolveRef, rootExtensions, type HttpMethod, type LimiterKey, type OperationInfo } from '../contract.ts';
import { deprecationOf, type Deprecation } from './deprecation.ts';
import type { OperationId } from './operation-types.ts';

type Permission = components['schemas']['Permission'];

export interface LoginThrottleLimits {
  per_account: { max_failures: number; window_seconds: number };
  per_client: { max_failures: number; window_seconds: number };
}

export interface OperationEntry {
  readonly operationId: OperationId;
  readonly method: HttpMethod;
  /** As the spec writes it: `/api/v1/agents/{agent_id}`. */
  readonly path: string;
  /** As Express matches it: `/api/v1/agents/:agent_id`. */
  readonly expressPath: string;
  /** The one permission the caller needs, or `null` for a public operation (`security: []`). */
  readonly permission: Permission | null;
  /** `x-rate-limit`: the caller's tier, a named limiter of `x-rate-limits`, or exempt. */
  readonly rateLimit: { kind: 'tier' } | { kind: 'exempt' } | { kind: 'limiter'; name: string; per: LimiterKey };
  /** Recorded in the audit log: every mutating operation unless it says `x-audit: false`. */
  readonly audited: boolean;
  /** The level of the access line of a successful answer (`x-access-log: failures`: debug). */
  readonly successLogLevel: 'info' | 'debug';
  /** `x-cache-control` of its 200 answers. */
  readonly cacheControl: string | undefined;
  readonly deprecation: Deprecation | undefined;
  /** Declares the `Idempotency-Key` header. */
  readonly idempotent: boolean;
  /** For a write that declares If-Match: the GET of the same path whose representation it is compared with. */
  readonly representation: OperationId | undefined;
  /** The header parameters it declares, by their declared names (`Last-Event-ID`). */
  readonly headerParameters: readonly string[];
  /** The statuses it declares. */
  readonly statuses: ReadonlySet<number>;
  /** Takes a request body (POST, PUT, PATCH with a `requestBody`). */
  readonly takesBody: boolean;
  /** Its body is raw bytes (`format: binary`): streamed to the handler unread, never parsed. */
  readonly streamedBody: boolean;
  /** `x-login-throttle`, on the sign-in operation. */
  readonly loginThrottle: LoginThrottleLimits | undefined;
  /** `x-database-budget`: how many DB_TIMEOUT_MS the request's waits on the database may add up to. */
  readonly databaseBudget: number;
  /** A static bearer token scheme (`metricsToken`) it accepts in place of a caller, checked when the server has that token configured. */
  readonly tokenScheme: StaticTokenScheme | undefined;
  /** Declares `Cache-Control: no-store` (components/headers/CacheControlNoStore) on a response: its answers carry a secret. */
  readonly noStore: boolean;
}

/** The security schemes that are one configured token, not a caller with permissions (server/http/static-token.ts). */
export const STATIC_TOKEN_SCHEMES = ['metricsToken'] as const;
export type StaticTokenScheme = (typeof STATIC_TOKEN_SCHEMES)[number];
const isStaticTokenRequirement = (requirement: Record<string, unknown>) =>
  Object.keys(requirement).length === 0 || Object.keys(requirement).every((scheme) => (STATIC_TOKEN_SCHEMES as readonly string[]).includes(scheme));

const MUTATING = new Set<HttpMethod>(['post', 'put', 'patch', 'delete']);

/** `/api/v1/agents/{agent_id}` → `/api/v1/agents/:agent_id` */
export const expressPath = (specPath: string): string => specPath.replace(/\{([^}]+)\}/g, ':$1');

interface Extensions {
  'x-rate-limit'?: string;
  'x-audit'?: boolean;
  'x-access-log'?: 'all' | 'failures';
  'x-cache-control'?: string;
  'x-login-throttle'?: LoginThrottleLimits;
  'x-database-budget'?: number;
}

function permissionOf(info: OperationInfo): Permission | null {
  const security = info.operation.security;
  if (!security) throw new Error(`${info.operationId} must declare its security (\`security: []\` when public)`);
  // `[]`, or only `{}` (no credential) and static tokens (`metricsToken`): no caller, no permission.
  if (security.every(isStaticTokenRequirement)) return null;
  const scopes = new Set(security.flatMap((requirement) => Object.values(requirement).flat()));
  const [permission] = scopes;
  if (scopes.size !== 1 || !permission || !(permission in rootExtensions['x-permissions'])) {
    throw new Error(`${info.operationId} must require exactly one known permission, got ${[...scopes].join(', ') || 'none'}`);
  }
  return permission as Permission;
}

function rateLimitOf(info: OperationInfo, rule: string | undefined): OperationEntry['rateLimit'] {
  if (rule === undefined) throw new Error(`${info.operationId} must declare x-rate-limit`);
  if (rule === 'tier' || rule === 'exempt') return { kind: rule };
  if (!(rule in rootExtensions['x-rate-limits'].limiters)) throw new Error(`${info.operationId}: x-rate-limit ${rule} is not a limiter of x-rate-limits`);
  const { per = 'client_address' } = rootExtensions['x-rate-limits'].limiters[rule]!;
  return { kind: 'limiter', name: rule, per };
}

function parameters(info: OperationInfo): Array<{ in?: string; name?: string }> {
  return (info.operation.parameters ?? []).map((p) => resolveRef<{ in?: string; name?: string }>(p as never));
}

function entryOf(info: OperationInfo): OperationEntry {
  const declared = info.operation as unknown as Extensions;
  const params = parameters(info);
  const cacheControl = declared['x-cache-control'];
  if (cacheControl !== undefined && info.method !== 'get') throw new Error(`${info.operationId}: x-cache-control is for GETs only`);
  if (declared['x-login-throttle'] && declared['x-rate-limit'] === 'exempt') throw new Error(`${info.operationId}: x-login-throttle on an exempt operation`);
  const declaresIfMatch = params.some((p) => p.in === 'header' && p.name === 'If-Match');
  const get = declaresIfMatch ? [...operationsById.values()].find((o) => o.path === info.path && o.method === 'get') : undefined;
  if (declaresIfMatch && !get) throw new Error(`${info.operationId} declares If-Match but its path has no GET to compare with`);
  return {
    operationId: info.operationId as OperationId,
    method: info.method,
    path: info.path,
    expressPath: expressPath(info.path),
    permission: permissionOf(info),
    rateLimit: rateLimitOf(info, declared['x-rate-limit']),
    audited: MUTATING.has(info.method) && declared['x-audit'] !== false,
    successLogLevel: declared['x-access-log'] === 'failures' ? 'debug' : 'info',
    cacheControl,
    deprecation: deprecationOf(info),
    idempotent: params.some((p) => p.in === 'header' && p.name === 'Idempotency-Key'),
    representation: get?.operationId as OperationId | undefined,
    headerParameters: params.flatMap((p) => (p.in === 'header' && p.name ? [p.name] : [])),
    statuses: new Set(Object.keys(info.operation.responses ?? {}).map(Number)),
    takesBody: info.operation.requestBody !== undefined,
    streamedBody: takesBytes(info),
    loginThrottle: declared['x-login-throttle'],
    databaseBudget: declared['x-database-budget'] ?? 1,
    tokenScheme: tokenSchemeOf(info),
    noStore: declaresNoStore(info),
  };
}

/** Whether every media type of its request body is raw bytes (`format: binary`). */
function takesBytes(info: OperationInfo): boolean {
  const body = info.operation.requestBody === undefined ? undefined : resolveRef<{ content?: Record<string, { schema?: unknown }> }>(info.operation.requestBody as never);
  const media = Object.values(body?.content ?? {});
  return media.length > 0 && media.every((m) => resolveRef<{ format?: string }>((m.schema ?? {}) as never).format === 'binary');
}

function tokenSchemeOf(info: OperationInfo): StaticTokenScheme | undefined {
  const schemes = (info.operation.security ?? []).flatMap((requirement) => Object.keys(requirement));
  return STATIC_TOKEN_SCHEMES.find((scheme) => schemes.includes(scheme));
}

function declaresNoStore(info: OperationInfo): boolean {
  return Object.values(info.operation.responses ?? {}).some((response) => {
    const headers = resolveRef<{ headers?: Record<string, unknown> }>(response as never).headers ?? {};
    const declared = headers['Cache-Control'];
    const cacheControl = declared === undefined ? undefined : resolveRef<{ schema?: { const?: unknown } }>(declared as never);
    return cacheControl?.schema?.const === 'no-store';
  });
}

/** Every operation of the contract, literal paths before templated ones (the order routes are registered in). */
export const operationTable: ReadonlyMap<OperationId, OperationEntry> = new Map(
  [...operationsById.values()].map((info) => [info.operationId as OperationId, entryOf(info)] as const),
);

/** The entry of an operation the server relies on by name (sign-in's throttle, say); throws when the spec lacks it. */
export function operationEntry(operationId: OperationId): OperationEntry {
  const entry = operationTable.get(operationId);
  if (!entry) throw new Error(`the contract has no operation ${operationId}`);
  return entry;
}
