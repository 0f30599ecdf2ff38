// Refresh tokens, stored as SHA-256 digests and grouped in families: one family per login, one row per
// rotation. A spent token presented again revokes its family.
import { sql } from 'kysely';
import type { Executor } from '../../db/executor.ts';

export interface NewRefreshToken {
  id: string;
  familyId: string;
  userId: string;
  hash: string;
  expiresAt: Date;
}

export async function insertRefreshToken(db: Executor, token: NewRefreshToken): Promise<void> {
  await db
    .insertInto('refresh_tokens')
    .values({ id: token.id, family_id: token.familyId, user_id: token.userId, token_hash: token.hash, expires_at: token.expiresAt })
    .execute();
}

/** Marks the token spent, if it was live; answers what it was, so replay can be told from a fresh use. */
export async function spendRefreshToken(db: Executor, hash: string) {
  const row = await db
    .selectFrom('refresh_tokens')
    .select(['id', 'family_id', 'user_id', 'expires_at', 'used_at', 'revoked_at'])
    .where('token_hash', '=', hash)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return { state: 'unknown' as const };
  if (row.revoked_at !== null) return { state: 'revoked' as const, row };
  if (row.used_at !== null) return { state: 'replayed' as const, row };
  if (row.expires_at.getTime() <= Date.now()) return { state: 'expired' as const, row };
  await db.updateTable('refresh_tokens').set({ used_at: sql`now()` }).where('id', '=', row.id).execute();
  return { state: 'live' as const, row };
}

export async function revokeFamily(db: Executor, familyId: string): Promise<void> {
  await db.updateTable('refresh_tokens').set({ revoked_at: sql`now()` }).where('family_id', '=', familyId).where('revoked_at', 'is', null).execute();
}

export async function revokeAllOfUser(db: Executor, userId: string): Promise<void> {
  await db.updateTable('refresh_tokens').set({ revoked_at: sql`now()` }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
}

export async function findFamilyOf(db: Executor, hash: string): Promise<string | undefined> {
  return (await db.selectFrom('refresh_tokens').select('family_id').where('token_hash', '=', hash).executeTakeFirst())?.family_id;
}
