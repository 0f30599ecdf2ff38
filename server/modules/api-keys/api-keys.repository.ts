import { sql, type RawBuilder } from 'kysely';
import type { ApiKeyRow } from '../../db/schema.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import type { Permission } from '../../auth/permissions.ts';

const keyColumns = ['id', 'user_id', 'name', 'prefix', 'scopes', 'created_at', 'last_used_at', 'expires_at', 'revoked_at'] as const;
export type PublicApiKeyRow = Omit<ApiKeyRow, 'secret_hash'>;

const live = (db: Executor, userId: string) => db.selectFrom('api_keys').where('user_id', '=', userId).where('revoked_at', 'is', null);
const sortExpression = (field: 'created_at' | 'id'): RawBuilder<unknown> => sql.ref(field);

export const listApiKeys = (db: Executor, userId: string, keys: SortKey<'created_at'>[], window: Window): Promise<PublicApiKeyRow[]> =>
  pageOf(live(db, userId).select(keyColumns), keys, window, sortExpression).execute();

export async function countApiKeys(db: Executor, userId: string): Promise<number> {
  return (await live(db, userId).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export interface NewApiKey {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  secretHash: string;
  scopes: Permission[];
  expiresAt: Date | null;
}

export const insertApiKey = (db: Executor, key: NewApiKey): Promise<PublicApiKeyRow> =>
  db
    .insertInto('api_keys')
    .values({ id: key.id, user_id: key.userId, name: key.name, prefix: key.prefix, secret_hash: key.secretHash, scopes: key.scopes, expires_at: key.expiresAt })
    .returning(keyColumns)
    .executeTakeFirstOrThrow();

export async function revokeApiKey(db: Executor, userId: string, id: string): Promise<boolean> {
  const result = await db.updateTable('api_keys').set({ revoked_at: sql`now()` }).where('id', '=', id).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** The key with this prefix and its owner, for authentication. */
export const findKeyForAuth = (db: Executor, prefix: string) =>
  db
    .selectFrom('api_keys')
    .innerJoin('users', 'users.id', 'api_keys.user_id')
    .select(['api_keys.id', 'api_keys.user_id', 'api_keys.secret_hash', 'api_keys.scopes', 'api_keys.expires_at', 'api_keys.revoked_at', 'api_keys.last_used_at'])
    .where('api_keys.prefix', '=', prefix)
    .executeTakeFirst();

/** Records use at most once a minute, so a busy key does not write on every request. */
export async function touchApiKey(db: Executor, id: string): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: sql`date_trunc('minute', now())` })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`date_trunc('minute', now())`)]))
    .execute();
}
