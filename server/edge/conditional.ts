// Conditional requests (RFC 9110): a strong ETag on every GET of a resource or list, `304` for a
// matching If-None-Match; If-Match on writes, answered 412 when the resource moved on. A write's
// If-Match is checked against the representation its path's GET would answer now, and the write
// itself then only applies to that version (the service compares `updated_at` in SQL), so two editors
// cannot overwrite each other even when their requests race.
import { createHash } from 'node:crypto';

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
