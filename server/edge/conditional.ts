// Conditional requests (RFC 9110): a strong ETag on every GET of a resource or list, `304` for a
// matching If-None-Match; If-Match on writes, answered 412 when the resource moved on. A write's
// If-Match is checked against the representation its path's GET would answer now, and the write
// itself then only applies to that version (the service compares `updated_at` in SQL), so two editors
// cannot overwrite each other even when their requests race.
import { createHash } from 'node:crypto';
import { declaresParameter, operationsById, type OperationInfo } from '../contract.ts';

/** A strong validator of a payload (the envelope less `meta`, which changes on every answer). */
export function etagOf(payload: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(payload)).digest('base64url').slice(0, 27)}"`;
}

/** Whether an If-None-Match / If-Match header names this ETag (or `*`). Weak forms compare by their value. */
export function matches(header: string, etag: string): boolean {
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

/** Each operation's `x-cache-control`, for the GETs that declare one. */
export const cacheControl: ReadonlyMap<string, string> = new Map(
  [...operationsById.values()].flatMap(({ operationId, operation }) => {
    const value = (operation as { 'x-cache-control'?: string })['x-cache-control'];
    return value ? [[operationId, value] as const] : [];
  }),
);

/** For a write that declares If-Match, the GET of the same path whose representation it is checked against. */
export const representationOf: ReadonlyMap<string, OperationInfo> = new Map(
  [...operationsById.values()].flatMap((info) => {
    const declaresIfMatch = declaresParameter(info, 'If-Match');
    const get = [...operationsById.values()].find((o) => o.path === info.path && o.method === 'get');
    return declaresIfMatch && get ? [[info.operationId, get] as const] : [];
  }),
);
