// Lists of every resource page the same way (api-conventions.md, "Lists"): offset mode with counted
// pages and links, or cursor mode whose cost does not grow with depth; `sort` and `fields` parsing.
import type { components } from '../../generated/openapi.d.ts';
import type { CursorPosition, Direction, SortKey, Window } from '../db/keyset.ts';
import { invalidParameter } from './errors.ts';
import type { RequestContext } from './request-context.ts';

type OffsetPagination = components['schemas']['OffsetPagination'];
type CursorPagination = components['schemas']['CursorPagination'];
export type Pagination = OffsetPagination | CursorPagination;

/** `created_at:desc,hostname:asc` → keys. The spec's pattern already bounds the fields; repeats are refused here. */
export function parseSort<F extends string>(raw: string, allowed: readonly F[]): SortKey<F>[] {
  const keys = raw.split(',').map((part) => {
    const [field, direction] = part.split(':') as [F, Direction];
    if (!allowed.includes(field)) throw invalidParameter('sort', `cannot sort by ${field}`, raw);
    return { field, direction };
  });
  if (new Set(keys.map((k) => k.field)).size !== keys.length) throw invalidParameter('sort', 'a field appears twice', raw);
  return keys;
}

/** A cursor carries its position (`CursorPosition`) and the query it belongs to. */
interface CursorPayload {
  q: string;
  v: Array<string | number | null>;
  id: string;
}

export function encodeCursor(queryKey: string, position: CursorPosition): string {
  const payload: CursorPayload = { q: queryKey, v: position.values, id: position.id };
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

export function decodeCursor(raw: string, queryKey: string, sortLength: number): CursorPosition {
  let payload: CursorPayload;
  try {
    payload = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as CursorPayload;
  } catch {
    throw invalidParameter('cursor', 'not a cursor this server issued');
  }
  const valid =
    payload !== null &&
    typeof payload === 'object' &&
    typeof payload.id === 'string' &&
    Array.isArray(payload.v) &&
    payload.v.length === sortLength &&
    payload.v.every((v) => v === null || typeof v === 'string' || typeof v === 'number');
  if (!valid) throw invalidParameter('cursor', 'not a cursor this server issued');
  if (payload.q !== queryKey) throw invalidParameter('cursor', 'the cursor was made for another sort or other filters');
  return { values: payload.v, id: payload.id };
}

/** Which page is asked for. `queryKey` ties a cursor to the sort and filters that made it. */
export function pageWindow(
  query: { limit?: number; offset?: number; cursor?: string },
  ctx: RequestContext,
  queryKey: string,
  sortLength: number,
): Window {
  const limit = query.limit ?? 50;
  const asked = new URL(ctx.url, 'http://x').searchParams;
  if (asked.has('cursor')) {
    if (asked.has('offset')) throw invalidParameter('offset', 'offset cannot be combined with cursor');
    const raw = asked.get('cursor') ?? '';
    return { mode: 'cursor', limit, after: raw === '' ? null : decodeCursor(raw, queryKey, sortLength) };
  }
  return { mode: 'offset', limit, offset: query.offset ?? 0 };
}

function linkTo(ctx: RequestContext, set: Record<string, string | number>, drop: string[] = []): string {
  const url = new URL(ctx.url, 'http://x');
  for (const name of drop) url.searchParams.delete(name);
  for (const [name, value] of Object.entries(set)) url.searchParams.set(name, String(value));
  return `${url.pathname}${url.search}`;
}

export function offsetPagination(ctx: RequestContext, limit: number, offset: number, total: number): OffsetPagination {
  const totalPages = Math.ceil(total / limit);
  const lastOffset = totalPages > 0 ? (totalPages - 1) * limit : 0;
  const hasNext = offset + limit < total;
  const hasPrev = offset > 0;
  return {
    mode: 'offset',
    page: Math.floor(offset / limit) + 1,
    per_page: limit,
    total,
    total_pages: totalPages,
    has_next: hasNext,
    has_prev: hasPrev,
    links: {
      self: linkTo(ctx, { limit, offset }),
      first: linkTo(ctx, { limit, offset: 0 }),
      prev: hasPrev ? linkTo(ctx, { limit, offset: Math.max(0, offset - limit) }) : null,
      next: hasNext ? linkTo(ctx, { limit, offset: offset + limit }) : null,
      last: linkTo(ctx, { limit, offset: lastOffset }),
    },
  };
}

export function cursorPagination(ctx: RequestContext, limit: number, hadCursor: boolean, nextCursor: string | null): CursorPagination {
  return {
    mode: 'cursor',
    per_page: limit,
    has_next: nextCursor !== null,
    has_prev: hadCursor,
    next_cursor: nextCursor,
    links: {
      self: linkTo(ctx, { limit }),
      first: linkTo(ctx, { limit, cursor: '' }),
      prev: null,
      next: nextCursor === null ? null : linkTo(ctx, { limit, cursor: nextCursor }),
      last: null,
    },
  };
}

/** The RFC 8288 `Link` header carrying the same links as `pagination.links`. */
export function linkHeader(pagination: Pagination): string {
  const rels = ['first', 'prev', 'next', 'last'] as const;
  return rels
    .flatMap((rel) => {
      const href = pagination.links[rel];
      return href ? [`<${href}>; rel="${rel}"`] : [];
    })
    .join(', ');
}

/** Trims an item to the fields asked for; `id` is always kept. */
export function pickFields<T extends { id: string }>(item: T, fields: readonly string[] | undefined): Partial<T> & { id: string } {
  if (!fields) return item;
  const picked: Record<string, unknown> = { id: item.id };
  for (const field of fields) if (field in item) picked[field] = item[field as keyof T];
  return picked as Partial<T> & { id: string };
}
