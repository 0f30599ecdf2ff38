// The bundled contract, loaded once: the server reads its operations, error catalogue and version from it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { components } from '../generated/openapi.d.ts';
import { ConfigError } from './config.ts';
import { documentExtensionProblems } from './extensions.ts';

export type ErrorCode = components['schemas']['ErrorCode'];

export const bundledSpecPath = fileURLToPath(new URL('../generated/openapi.json', import.meta.url));
export const bundledSpecYamlPath = fileURLToPath(new URL('../generated/openapi.yaml', import.meta.url));
/** The AsyncAPI document of the live WebSocket (scripts/asyncapi.ts), as JSON and YAML. */
export const asyncApiPath = fileURLToPath(new URL('../generated/asyncapi.json', import.meta.url));
export const asyncApiYamlPath = fileURLToPath(new URL('../generated/asyncapi.yaml', import.meta.url));
export const docsPath = fileURLToPath(new URL('../generated/docs.html', import.meta.url));

export const spec = JSON.parse(readFileSync(bundledSpecPath, 'utf8')) as OpenAPIV3_1.Document;

// Every extension the contract carries is one Opsdeck knows, in its place, of the right shape (extensions.ts);
// otherwise the server does not start, and the message names the extension and where it stands.
const extensionProblems = documentExtensionProblems(spec as never);
if (extensionProblems.length > 0) throw new Error(`the contract's extensions are invalid:\n  ${extensionProblems.join('\n  ')}`);

type Bucket = { requests_per_minute: number; burst: number };
/** The root extensions, checked above against their schemas in extensions.ts. */
/** What a limiter counts by: the client's address, or the credential the request presents (its enrollment token). */
export type LimiterKey = 'client_address' | 'enrollment_token';
export type Limiter = Bucket & { per?: LimiterKey };

/** The root's `x-metrics` policy: retention, and the bounds of metric reports and queries. */
export interface MetricsPolicy {
  retention_days: number;
  report_max_names: number;
  query_max_range_days: number;
  query_min_step_seconds: number;
  query_max_step_seconds: number;
  query_max_points: number;
  /** The longest range of a percentile query (p50, p95, p99), read from the raw samples. */
  query_percentile_max_range_hours: number;
}

export interface RootExtensions {
  'x-permissions': Record<string, string>;
  'x-roles': Record<string, { description: string; permissions: string[] }>;
  'x-rate-limits': { description: string; when_redis_fails: 'allow'; tiers: Record<'anonymous' | 'authenticated' | 'premium' | 'admin', Bucket>; limiters: Record<string, Limiter> };
  'x-webhook-delivery': Record<string, unknown> & { description: string };
  'x-event-stream': Record<string, unknown> & { description: string };
  'x-metrics': { description: string } & MetricsPolicy;
  'x-artifacts': Record<string, unknown> & { description: string };
  'x-certificates': Record<string, unknown> & { description: string };
  'x-settings': { description: string; keys: Record<string, SettingDeclaration> };
}

/** One key of the root's `x-settings`: what it does, the JSON Schema of its values, its default. */
export interface SettingDeclaration {
  description: string;
  schema: { type: 'integer' | 'number' | 'string' | 'boolean'; minimum?: number; maximum?: number; enum?: unknown[] };
  default: string | number | boolean;
}
export const rootExtensions = spec as unknown as RootExtensions;

/** Follows a local `$ref` (`#/components/parameters/IfMatch`) to what it names. */
export function resolveRef<T>(node: T | { $ref: string }): T {
  const ref = (node as { $ref?: string } | undefined)?.$ref;
  if (!ref?.startsWith('#/')) return node as T;
  const target = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((at, key) => (at as Record<string, unknown>)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
  return resolveRef(target as T);
}

/** `api_version` of the envelope: major.minor of the contract's version. */
export const apiVersion = spec.info.version.split('.').slice(0, 2).join('.');

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface OperationInfo {
  operationId: string;
  method: HttpMethod;
  /** The path as the spec writes it: `/api/v1/agents/{agent_id}`. */
  path: string;
  operation: OpenAPIV3_1.OperationObject;
}

// Literal paths come before templated ones (`/agents/summary` before `/agents/{agent_id}`), so routes
// registered in this order match as OpenAPI says they should.
const literalFirst = (path: string) => path.replace(/\{/g, '\uffff');
const byLiteralFirst = ([a]: [string, unknown], [b]: [string, unknown]) => (literalFirst(a) < literalFirst(b) ? -1 : literalFirst(a) > literalFirst(b) ? 1 : 0);

export const operationsById: ReadonlyMap<string, OperationInfo> = new Map(
  Object.entries(spec.paths ?? {}).sort(byLiteralFirst).flatMap(([path, item]) =>
    HTTP_METHODS.flatMap((method) => {
      const operation = item?.[method];
      if (!operation?.operationId) return [];
      return [[operation.operationId, { operationId: operation.operationId, method, path, operation }] as const];
    }),
  ),
);

/**
 * For a schema that is a `oneOf` of constants (`ErrorCode`, `EventType`, `EventChannel`), each constant's
 * value of one extension (`x-http-status`, `x-channel`, `x-permission`); start-up fails when one lacks it.
 */
export function constantsExtension<K extends string, V>(schemaName: string, extension: 'x-http-status' | 'x-channel' | 'x-permission'): ReadonlyMap<K, V> {
  const entries = (spec.components?.schemas?.[schemaName] as { oneOf?: Array<Record<string, unknown>> } | undefined)?.oneOf;
  if (!entries) throw new Error(`schema ${schemaName} must be a oneOf of constants`);
  return new Map(
    entries.map((entry) => {
      if (entry[extension] === undefined) throw new Error(`schema ${schemaName}: ${JSON.stringify(entry.const)} declares no ${extension}`);
      return [entry.const as K, entry[extension] as V] as const;
    }),
  );
}

/** One property of a named schema, its `$ref` followed: its bounds and default are read from the contract, not kept twice. */
export function schemaProperty(schemaName: string, property: string): OpenAPIV3_1.SchemaObject {
  const schema = resolveRef(spec.components?.schemas?.[schemaName] as OpenAPIV3_1.SchemaObject | undefined);
  const found = schema?.properties?.[property];
  if (!found) throw new Error(`schema ${schemaName} has no property ${property}`);
  return resolveRef(found as OpenAPIV3_1.SchemaObject);
}

/** Each error code's HTTP status, as the ErrorCode schema declares it. */
export const errorStatus: ReadonlyMap<ErrorCode, number> = constantsExtension<ErrorCode, number>('ErrorCode', 'x-http-status');

/** A policy object of the spec's root (`x-webhook-delivery`, `x-event-stream`, `x-metrics`, `x-artifacts`), without its description. */
export function policy<T>(name: 'x-webhook-delivery' | 'x-event-stream' | 'x-metrics' | 'x-artifacts' | 'x-certificates'): T {
  const { description: _description, ...values } = rootExtensions[name] as Record<string, unknown>;
  return values as T;
}

/**
 * A policy of the spec's root with the configuration's overrides (the variable `variable`, a JSON object),
 * checked as start-up needs it: every field is one of `amounts` (a positive number; fractions allowed, as
 * tests shorten waits below a second) or of `counts` (a positive whole number); anything else fails start-up,
 * naming the variable.
 */
export function policyWithOverrides<T>(
  name: Parameters<typeof policy>[0],
  variable: string,
  overrides: Readonly<Record<string, unknown>>,
  fields: { amounts: readonly string[]; counts: readonly string[] },
): T {
  const known = [...fields.amounts, ...fields.counts];
  const merged: Record<string, unknown> = { ...policy<Record<string, unknown>>(name), ...overrides };
  for (const field of Object.keys(merged)) {
    if (!known.includes(field)) throw new ConfigError(variable, `${variable}: unknown field ${field} (known: ${known.join(', ')})`);
  }
  for (const field of fields.amounts) {
    const value = merged[field];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ConfigError(variable, `${variable}: ${field} must be a positive number, got ${JSON.stringify(value)}`);
  }
  for (const field of fields.counts) {
    const value = merged[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new ConfigError(variable, `${variable}: ${field} must be a positive whole number, got ${JSON.stringify(value)}`);
  }
  return Object.freeze(merged) as T;
}
