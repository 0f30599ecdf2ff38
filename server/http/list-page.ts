// The service side of every list: parse `sort`, pick the window (offset or cursor), fetch, count in
// offset mode, and build the pagination block with the next cursor.
import { cursorPagination, encodeCursor, offsetPagination, pageWindow, parseSort, type Pagination } from './pagination.ts';
import type { RequestContext } from './request-context.ts';
import { cursorValue, type SortKey, type Window } from '../db/keyset.ts';

const columnValue = (row: object, field: string) => cursorValue((row as Record<string, unknown>)[field]);

export interface ListQuery {
  limit?: number;
  offset?: number;
  cursor?: string;
  sort?: string;
}

export interface ListSource<Row extends { id: string }, F extends string> {
  sortable: readonly F[];
  defaultSort: string;
  /** Everything besides paging that decides which rows match; a cursor is valid only for the same. */
  filter: unknown;
  rows(keys: SortKey<F>[], window: Window): Promise<Row[]>;
  count(): Promise<number>;
  /** A row's value for one sort key, comparable with the query's sort expression (default: the column's value). */
  cursorValue?(row: Row, field: F): string | number | null;
}

export async function listPage<Row extends { id: string }, F extends string>(
  query: ListQuery,
  ctx: RequestContext,
  source: ListSource<Row, F>,
): Promise<{ rows: Row[]; pagination: Pagination }> {
  const sortRaw = query.sort ?? source.defaultSort;
  const keys = parseSort(sortRaw, source.sortable);
  const queryKey = JSON.stringify([sortRaw, source.filter]);
  const window = pageWindow(query, ctx, queryKey, keys.length);
  if (window.mode === 'offset') {
    const [rows, total] = await Promise.all([source.rows(keys, window), source.count()]);
    return { rows, pagination: offsetPagination(ctx, window.limit, window.offset, total) };
  }
  const fetched = await source.rows(keys, window);
  const rows = fetched.slice(0, window.limit);
  const last = rows.at(-1);
  const next =
    fetched.length > window.limit && last
      ? encodeCursor(queryKey, { values: keys.map((k) => (source.cursorValue ?? columnValue)(last, k.field)), id: last.id })
      : null;
  return { rows, pagination: cursorPagination(ctx, window.limit, window.after !== null, next) };
}
