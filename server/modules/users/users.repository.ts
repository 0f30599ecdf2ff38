import { sql, type RawBuilder } from 'kysely';
import type { UserRow, UsersTable } from '../../db/schema.ts';
import type { Insertable, Updateable } from 'kysely';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import type { RoleName } from '../../auth/permissions.ts';

export const SORTABLE_FIELDS = ['email', 'name', 'role', 'created_at'] as const;
export type UserSortField = (typeof SORTABLE_FIELDS)[number];

// The password hash is selected only where a password is checked (`findLoginByEmail`), never listed.
const userColumns = ['id', 'email', 'name', 'role', 'rate_tier', 'active', 'password_changed_at', 'created_at', 'updated_at'] as const;
export type PublicUserRow = Omit<UserRow, 'password_hash'>;

export interface UserFilter {
  role?: RoleName | undefined;
  active?: boolean | undefined;
  search?: string | undefined;
}

const sortExpression = (field: UserSortField | 'id'): RawBuilder<unknown> => (field === 'email' ? sql`lower(email)` : sql.ref(field));

function filtered(db: Executor, filter: UserFilter) {
  let query = db.selectFrom('users');
  if (filter.role) query = query.where('role', '=', filter.role);
  if (filter.active !== undefined) query = query.where('active', '=', filter.active);
  if (filter.search) {
    const term = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) => eb.or([eb('email', 'ilike', term), eb('name', 'ilike', term)]));
  }
  return query;
}

export const listUsers = (db: Executor, filter: UserFilter, keys: SortKey<UserSortField>[], window: Window): Promise<PublicUserRow[]> =>
  pageOf(filtered(db, filter).select(userColumns), keys, window, sortExpression).execute();

export async function countUsers(db: Executor, filter: UserFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow()).total;
}

export const findUser = (db: Executor, id: string): Promise<PublicUserRow | undefined> =>
  db.selectFrom('users').select(userColumns).where('id', '=', id).executeTakeFirst();

export const findLoginByEmail = (db: Executor, email: string): Promise<UserRow | undefined> =>
  db.selectFrom('users').selectAll().where(sql`lower(email)`, '=', email.toLowerCase()).executeTakeFirst();

export const findPasswordHash = async (db: Executor, id: string): Promise<string | undefined> =>
  (await db.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirst())?.password_hash;

export const insertUser = (db: Executor, row: Insertable<UsersTable>): Promise<PublicUserRow> =>
  db.insertInto('users').values(row).returning(userColumns).executeTakeFirstOrThrow();

/** `expectedUpdatedAt`: change the user only if it is still that version (an If-Match that held). */
export function updateUser(db: Executor, id: string, changes: Updateable<UsersTable>, expectedUpdatedAt: string | null = null): Promise<PublicUserRow | undefined> {
  let query = db.updateTable('users').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return query.returning(userColumns).executeTakeFirst();
}

export async function deleteUser(db: Executor, id: string, expectedUpdatedAt: string | null = null): Promise<boolean> {
  let query = db.deleteFrom('users').where('id', '=', id);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return (await query.executeTakeFirst()).numDeletedRows > 0n;
}

export async function countActiveAdmins(db: Executor): Promise<number> {
  return (await db.selectFrom('users').select(sql<number>`count(*)::int`.as('n')).where('role', '=', 'admin').where('active', '=', true).executeTakeFirstOrThrow()).n;
}

export async function anyUser(db: Executor): Promise<boolean> {
  return (await db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
}

/** A user with the ids of its teams, in one query: what authentication needs on every request. */
export async function findCaller(db: Executor, id: string): Promise<(PublicUserRow & { team_ids: string[] }) | undefined> {
  return db
    .selectFrom('users')
    .leftJoin('team_members', 'team_members.user_id', 'users.id')
    .select([
      'users.id',
      'users.email',
      'users.name',
      'users.role',
      'users.rate_tier',
      'users.active',
      'users.password_changed_at',
      'users.created_at',
      'users.updated_at',
      sql<string[]>`coalesce(array_agg(team_members.team_id::text) filter (where team_members.team_id is not null), '{}'::text[])`.as('team_ids'),
    ])
    .where('users.id', '=', id)
    .groupBy('users.id')
    .executeTakeFirst();
}
