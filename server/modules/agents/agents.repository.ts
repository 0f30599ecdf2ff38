// Thin Kysely queries for agents, with explicit columns. Every function takes a Kysely instance or a
// transaction, so the service decides what runs together.
import { sql, type Expression, type Kysely, type RawBuilder, type SqlBool, type Transaction } from 'kysely';
import type { AgentRow, AgentRowUpdate, Database, NewAgentRow } from '../../db/schema.ts';
import type { CursorPosition, SortKey, Window } from '../../http/pagination.ts';

export type Executor = Kysely<Database> | Transaction<Database>;

export const SORTABLE_FIELDS = ['hostname', 'status', 'platform', 'last_seen', 'created_at', 'updated_at'] as const;
export type AgentSortField = (typeof SORTABLE_FIELDS)[number];

export interface AgentFilter {
  status?: AgentRow['status'] | undefined;
  platform?: AgentRow['platform'] | undefined;
  search?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
}

// inet is returned as plain text without a prefix length (`10.0.4.21`, not `10.0.4.21/32`).
const agentColumns = [
  'id',
  'hostname',
  sql<string>`host(ip_address)`.as('ip_address'),
  'platform',
  'os_version',
  'agent_version',
  'status',
  'tags',
  'last_seen',
  'created_at',
  'updated_at',
] as const;

/** Sort expression of a field; a never-seen agent sorts as the oldest `last_seen`, so keysets never meet NULL. */
function sortExpression(field: AgentSortField | 'id'): RawBuilder<unknown> {
  return field === 'last_seen' ? sql`coalesce(last_seen, '-infinity'::timestamptz)` : sql.ref(field);
}

/** The cursor value of a row for one sort field, comparable with `sortExpression`. */
export function cursorValue(row: AgentRow, field: AgentSortField): string | null {
  const value = row[field];
  if (value === null) return field === 'last_seen' ? '-infinity' : null;
  return value instanceof Date ? value.toISOString() : String(value);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function filtered(db: Executor, filter: AgentFilter) {
  let query = db.selectFrom('agents');
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.platform) query = query.where('platform', '=', filter.platform);
  if (filter.createdAfter) query = query.where('created_at', '>=', new Date(filter.createdAfter));
  if (filter.createdBefore) query = query.where('created_at', '<', new Date(filter.createdBefore));
  if (filter.search) {
    const term = escapeLike(filter.search);
    query = query.where((eb) =>
      eb.or([eb('hostname', 'ilike', `%${term}%`), eb(sql<string>`host(ip_address)`, 'like', `${term}%`)]),
    );
  }
  return query;
}

/**
 * Rows strictly after `after` in the order of `keys` (with `id` as the last tie-breaker). When every key
 * runs the same way this is one row comparison, which PostgreSQL answers from a matching index.
 */
function afterPosition(keys: SortKey<AgentSortField>[], after: CursorPosition): Expression<SqlBool> {
  const exprs = [...keys.map((k) => sortExpression(k.field)), sortExpression('id')];
  const values = [...after.values, after.id];
  const directions = [...keys.map((k) => k.direction), keys[0]?.direction ?? 'asc'];
  if (directions.every((d) => d === directions[0])) {
    const op = sql.raw(directions[0] === 'desc' ? '<' : '>');
    return sql<SqlBool>`(${sql.join(exprs)}) ${op} (${sql.join(values)})`;
  }
  const branches = exprs.map((expr, i) => {
    const equalBefore = exprs.slice(0, i).map((e, j) => sql`${e} = ${values[j]}`);
    const op = sql.raw(directions[i] === 'desc' ? '<' : '>');
    return sql`(${sql.join([...equalBefore, sql`${expr} ${op} ${values[i]}`], sql` and `)})`;
  });
  return sql<SqlBool>`(${sql.join(branches, sql` or `)})`;
}

export async function listAgents(db: Executor, filter: AgentFilter, keys: SortKey<AgentSortField>[], window: Window): Promise<AgentRow[]> {
  let query = filtered(db, filter).select(agentColumns);
  if (window.mode === 'cursor' && window.after) {
    const condition = afterPosition(keys, window.after);
    query = query.where(() => condition);
  }
  for (const key of keys) query = query.orderBy(sortExpression(key.field), key.direction);
  query = query.orderBy('id', keys[0]?.direction ?? 'asc');
  if (window.mode === 'offset') return query.limit(window.limit).offset(window.offset).execute();
  // One row more than the page tells whether a next page exists, without counting.
  return query.limit(window.limit + 1).execute();
}

export async function countAgents(db: Executor, filter: AgentFilter): Promise<number> {
  const row = await filtered(db, filter).select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow();
  return row.total;
}

export async function findAgent(db: Executor, id: string): Promise<AgentRow | undefined> {
  return db.selectFrom('agents').select(agentColumns).where('id', '=', id).executeTakeFirst();
}

export async function insertAgent(db: Executor, row: NewAgentRow): Promise<AgentRow> {
  return db.insertInto('agents').values(row).returning(agentColumns).executeTakeFirstOrThrow();
}

export async function updateAgent(db: Executor, id: string, changes: AgentRowUpdate): Promise<AgentRow | undefined> {
  return db
    .updateTable('agents')
    .set({ ...changes, updated_at: sql`now()` })
    .where('id', '=', id)
    .returning(agentColumns)
    .executeTakeFirst();
}

export async function deleteAgent(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom('agents').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
