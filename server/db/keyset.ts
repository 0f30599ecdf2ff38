// Ordering and paging shared by every list query: ORDER BY the sort keys then `id`, and either
// LIMIT/OFFSET or a keyset condition "after the cursor's row", so a cursor page costs the same at any depth.
import { sql, type Expression, type RawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';

export type Direction = 'asc' | 'desc';
export interface SortKey<F extends string> {
  field: F;
  direction: Direction;
}

/** A cursor names the last row of the page before: its sort values and id. */
export interface CursorPosition {
  values: Array<string | number | null>;
  id: string;
}

/** Which page is asked for: LIMIT/OFFSET, or the rows after a cursor's (from the first row when `after` is null). */
export type Window = { mode: 'offset'; limit: number; offset: number } | { mode: 'cursor'; limit: number; after: CursorPosition | null };

export type SortExpressions<F extends string> = (field: F | 'id') => RawBuilder<unknown>;

/** Rows strictly after the cursor in the order of `keys` + `id`; one row comparison when all keys run one way. */
function afterPosition<F extends string>(keys: SortKey<F>[], expression: SortExpressions<F>, values: unknown[], id: string): Expression<SqlBool> {
  const exprs = [...keys.map((k) => expression(k.field)), expression('id')];
  const all = [...values, id];
  const directions = [...keys.map((k) => k.direction), keys[0]?.direction ?? 'asc'];
  if (directions.every((d) => d === directions[0])) {
    const op = sql.raw(directions[0] === 'desc' ? '<' : '>');
    return sql<SqlBool>`(${sql.join(exprs)}) ${op} (${sql.join(all)})`;
  }
  const branches = exprs.map((expr, i) => {
    const equalBefore = exprs.slice(0, i).map((e, j) => sql`${e} = ${all[j]}`);
    const op = sql.raw(directions[i] === 'desc' ? '<' : '>');
    return sql`(${sql.join([...equalBefore, sql`${expr} ${op} ${all[i]}`], sql` and `)})`;
  });
  return sql<SqlBool>`(${sql.join(branches, sql` or `)})`;
}

export function pageOf<DB, TB extends keyof DB, O, F extends string>(
  query: SelectQueryBuilder<DB, TB, O>,
  keys: SortKey<F>[],
  window: Window,
  expression: SortExpressions<F>,
): SelectQueryBuilder<DB, TB, O> {
  let q = query;
  if (window.mode === 'cursor' && window.after) {
    const condition = afterPosition(keys, expression, window.after.values, window.after.id);
    q = q.where(() => condition);
  }
  for (const key of keys) q = q.orderBy(expression(key.field), key.direction);
  q = q.orderBy(expression('id'), keys[0]?.direction ?? 'asc');
  // In cursor mode one row more than the page tells whether a next page exists, without counting.
  return window.mode === 'offset' ? q.limit(window.limit).offset(window.offset) : q.limit(window.limit + 1);
}

/** A row's value for a sort key, as a cursor carries it (times as RFC 3339). */
export function cursorValue(value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'number' ? value : String(value);
}
