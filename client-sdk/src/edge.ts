// The contract's "edge": validators (ETag, If-None-Match → 304, If-Match → 412), idempotency keys and
// rate-limit headers. openapi-fetch already types the header parameters (`params.header['If-None-Match']`,
// `['If-Match']`, `['Idempotency-Key']`); these are the thin helpers around them.
import type { Client, MaybeOptionalInit, Middleware } from 'openapi-fetch';
import { unwrapBody, type FetchResult } from './errors.ts';
import type { paths } from './types.ts';

/** Anything that carries an answer's headers: a `Response`, openapi-fetch's `{ data, error, response }`, an `OpsdeckError`. */
export type HasHeaders = { headers: Headers } | { response: Response };

function headersOf(source: HasHeaders): Headers {
  return 'response' in source ? source.response.headers : source.headers;
}

/**
 * The answer's `ETag` (quotes included, as it is sent back), or undefined when it has none. Every GET of a
 * resource or list carries one, a 304 too.
 */
export function etagOf(source: HasHeaders): string | undefined {
  return headersOf(source).get('ETag') ?? undefined;
}

/** True when the answer is the stored answer of an earlier request with the same `Idempotency-Key`. */
export function isReplayed(source: HasHeaders): boolean {
  return headersOf(source).get('Idempotent-Replayed') === 'true';
}

/** The caller's token bucket, as the `X-RateLimit-*` headers of an answer tell it. */
export interface RateLimit {
  /** The bucket's size: the most requests that can be made at once (its burst). */
  limit: number;
  /** Tokens left after this request; each request spends one. */
  remaining: number;
  /** When the bucket is full again, in epoch seconds (`new Date(reset * 1000)`). */
  reset: number;
  /** Which bucket the request counted against, e.g. `user:<id>/authenticated`; undefined if not sent. */
  bucket: string | undefined;
}

/**
 * The rate-limit state an answer reports (also a 429's, through the `OpsdeckError`), or undefined when the
 * answer carries none (exempt operations, limits switched off, a proxy's answer).
 */
export function rateLimitOf(source: HasHeaders): RateLimit | undefined {
  const headers = headersOf(source);
  const number = (name: string): number | undefined => {
    const value = headers.get(name)?.trim();
    return value && /^\d+$/.test(value) ? Number(value) : undefined;
  };
  const limit = number('X-RateLimit-Limit');
  const remaining = number('X-RateLimit-Remaining');
  const reset = number('X-RateLimit-Reset');
  if (limit === undefined || remaining === undefined || reset === undefined) return undefined;
  return { limit, remaining, reset, bucket: headers.get('X-RateLimit-Bucket') ?? undefined };
}

// ---- Conditional GET ----------------------------------------------------------------------------

/** The paths whose GET answers `304 Not Modified` to a matching `If-None-Match`. */
export type ConditionalPath = {
  [P in keyof paths]: paths[P] extends { get: { responses: { 304: unknown } } } ? P : never;
}[keyof paths];

type GetBody<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { 'application/json': infer Body } } } };
}
  ? Body
  : never;

/** What `getIfChanged` resolves to: either "what you hold is current", or the new representation. */
export type IfChanged<P extends ConditionalPath> =
  | {
      notModified: true;
      /** The current ETag: the one you sent. */
      etag: string;
      response: Response;
    }
  | {
      notModified: false;
      /** The envelope's `data`, as `unwrap` gives it. */
      data: GetBody<P> extends { data: infer Data; meta: unknown } ? Data : GetBody<P>;
      /** The whole envelope, e.g. for a list's `pagination`. */
      body: GetBody<P>;
      /** The ETag to send next time; undefined only if the server sent none. */
      etag: string | undefined;
      response: Response;
    };

interface LooseInit {
  params?: { header?: Record<string, unknown> | undefined } & Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * A conditional GET. With `etag` (from an earlier answer, see `etagOf`) it sends `If-None-Match: <etag>` and
 * resolves `{ notModified: true }` on `304`; otherwise, and without `etag`, it resolves the fresh `data`
 * (and whole `body`) with the new `etag`. Any other answer throws `OpsdeckError`, as `unwrap` does.
 *
 * ```ts
 * let held = await getIfChanged(opsdeck, '/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }, undefined);
 * // … later
 * const again = await getIfChanged(opsdeck, '/api/v1/agents/{agent_id}', { params: { path: { agent_id } } }, held.etag);
 * if (!again.notModified) held = again;
 * ```
 */
export async function getIfChanged<P extends ConditionalPath>(
  client: Client<paths>,
  path: P,
  init: MaybeOptionalInit<paths[P], 'get'>,
  etag: string | undefined,
): Promise<IfChanged<P>> {
  // The typed GET cannot be called with a generic path.
  const get = client.GET as unknown as (path: string, init: LooseInit) => Promise<FetchResult>;
  const loose = (init ?? {}) as LooseInit;
  // `etag` wins over an If-None-Match the caller put in `init`.
  const held = etag ?? (loose.params?.header?.['If-None-Match'] as string | undefined);
  const sent: LooseInit =
    held === undefined ? loose : { ...loose, params: { ...loose.params, header: { ...loose.params?.header, 'If-None-Match': held } } };
  const result = await get(path, sent);
  const { response } = result;
  if (response.status === 304) return { notModified: true, etag: etagOf(result) ?? held ?? '', response };
  const body = (await unwrapBody(result)) as GetBody<P>;
  const isEnvelope = typeof body === 'object' && body !== null && 'data' in body && 'meta' in body;
  const data = (isEnvelope ? (body as { data: unknown }).data : body) as Extract<IfChanged<P>, { notModified: false }>['data'];
  return { notModified: false, data, body, etag: etagOf(result), response };
}

// ---- Idempotency keys ---------------------------------------------------------------------------

type PostHeader<P extends keyof paths> = paths[P] extends { post: { parameters: { header?: infer Header } } } ? Header : never;

/** The paths whose POST (a create) accepts an `Idempotency-Key`. */
export type IdempotentPostPath = {
  [P in keyof paths]: [NonNullable<PostHeader<P>>] extends [never]
    ? never
    : 'Idempotency-Key' extends keyof NonNullable<PostHeader<P>>
      ? P
      : never;
}[keyof paths];

/**
 * Every path whose POST takes an `Idempotency-Key`, checked against the contract: a path listed here whose
 * POST does not take one fails the type check (a key there would make retries unsafe, as the server
 * ignores it); a path of the contract missing here fails the type tests (test/types/sdk.types.ts), and
 * until it is added, its POSTs just get no automatic key.
 */
export const IDEMPOTENT_POST_PATHS = [
  '/api/v1/agents',
  '/api/v1/agents/{agent_id}/actions/reboot',
  '/api/v1/agents/{agent_id}/actions/shutdown',
  '/api/v1/agents/{agent_id}/actions/update-agent',
  '/api/v1/agents/{agent_id}/actions/command',
  '/api/v1/agents/{agent_id}/tasks',
  '/api/v1/agent-groups',
  '/api/v1/tasks',
  '/api/v1/metrics/dashboards',
  '/api/v1/tasks/{task_id}/retry',
  '/api/v1/tasks/schedules',
  '/api/v1/tasks/templates',
  '/api/v1/alerts',
  '/api/v1/alerts/bulk',
  '/api/v1/metrics/alerts/rules',
  '/api/v1/metrics/alerts/notifications',
  '/api/v1/metrics/alerts/notifications/{channel_id}/test',
  '/api/v1/metrics/alerts/silences',
  '/api/v1/deployments',
  '/api/v1/deployments/{deployment_id}/rollback',
  '/api/v1/pipelines',
  '/api/v1/pipelines/{pipeline_id}/runs',
  '/api/v1/teams',
  '/api/v1/teams/{team_id}/members',
  '/api/v1/teams/{team_id}/enrollment-tokens',
  '/api/v1/admin/users',
  '/api/v1/api-keys',
  '/api/v1/agent/enroll',
  '/api/v1/webhooks',
  '/api/v1/webhooks/{webhook_id}/ping',
  '/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver',
  '/api/v1/inventory/packages/vulnerabilities/advisories',
  '/api/v1/config/policies',
  '/api/v1/agent/certificate',
] as const satisfies readonly IdempotentPostPath[];

const IDEMPOTENT_POSTS = IDEMPOTENT_POST_PATHS.map(
  (template) => new RegExp(`${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
);

/**
 * The `idempotencyKeys` option: a fresh `Idempotency-Key` (a random UUID) on every POST whose operation takes
 * one and that does not carry one already, so the retries can send it again safely (the server replays the
 * first answer). Other POSTs (log-in, refresh, password change) are left alone: the server ignores a key
 * there, so repeating them would not be safe.
 */
export const idempotencyKeys: Middleware = {
  onRequest({ request }) {
    if (request.method !== 'POST' || request.headers.has('Idempotency-Key')) return;
    const path = new URL(request.url).pathname;
    if (IDEMPOTENT_POSTS.some((pattern) => pattern.test(path))) request.headers.set('Idempotency-Key', crypto.randomUUID());
  },
};
