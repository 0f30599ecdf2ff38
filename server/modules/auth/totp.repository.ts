// TOTP second factors, recovery codes, login challenges and the authentication policy. Secrets are stored sealed
// (user_totp.secret_ciphertext) or as digests (recovery codes, challenge tokens); nothing here returns a plain one.
import { sql } from 'kysely';
import type { Executor } from '../../db/executor.ts';
import type { RoleName } from '../../auth/permissions.ts';

export async function findTotp(db: Executor, userId: string) {
  return db
    .selectFrom('user_totp')
    .select(['user_id', 'secret_ciphertext', 'confirmed_at', 'last_used_step'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** Stores a pending secret, replacing a pending one; `false` when the user's second factor is already confirmed. */
export async function upsertPendingTotp(db: Executor, userId: string, secretCiphertext: string): Promise<boolean> {
  const row = await db
    .insertInto('user_totp')
    .values({ user_id: userId, secret_ciphertext: secretCiphertext })
    .onConflict((oc) =>
      oc
        .column('user_id')
        .doUpdateSet({ secret_ciphertext: secretCiphertext, confirmed_at: null, last_used_step: null, created_at: sql`now()`, updated_at: sql`now()` })
        .where('user_totp.confirmed_at', 'is', null),
    )
    .returning('user_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Confirms a pending secret at the step its first code was made; `false` when none was pending. */
export async function confirmTotp(db: Executor, userId: string, step: number): Promise<boolean> {
  const row = await db
    .updateTable('user_totp')
    .set({ confirmed_at: sql`now()`, last_used_step: step, updated_at: sql`now()` })
    .where('user_id', '=', userId)
    .where('confirmed_at', 'is', null)
    .returning('user_id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Records that a code of `step` was used, if no code of that step or a later one was: the one place a TOTP code is
 * spent, so that each works once even when two requests bring it at the same moment.
 */
export async function spendStep(db: Executor, userId: string, step: number): Promise<boolean> {
  const row = await db
    .updateTable('user_totp')
    .set({ last_used_step: step, updated_at: sql`now()` })
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
    .returning('user_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteSecondFactor(db: Executor, userId: string): Promise<void> {
  await db.deleteFrom('user_totp').where('user_id', '=', userId).execute();
  await db.deleteFrom('user_recovery_codes').where('user_id', '=', userId).execute();
  await db.deleteFrom('mfa_challenges').where('user_id', '=', userId).execute();
}

/** Every challenge of a user goes (a password change: a challenge won with the old password completes nothing). */
export async function deleteChallengesOf(db: Executor, userId: string): Promise<void> {
  await db.deleteFrom('mfa_challenges').where('user_id', '=', userId).execute();
}

export async function replaceRecoveryCodes(db: Executor, userId: string, rows: Array<{ id: string; code_hash: string }>): Promise<void> {
  await db.deleteFrom('user_recovery_codes').where('user_id', '=', userId).execute();
  await db
    .insertInto('user_recovery_codes')
    .values(rows.map((r) => ({ ...r, user_id: userId })))
    .execute();
}

/** Marks an unused recovery code used; `false` when there is no such unused code. */
export async function spendRecoveryCode(db: Executor, userId: string, codeHash: string): Promise<boolean> {
  const row = await db
    .updateTable('user_recovery_codes')
    .set({ used_at: sql`now()` })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function countUnusedRecoveryCodes(db: Executor, userId: string): Promise<number> {
  const row = await db
    .selectFrom('user_recovery_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertChallenge(db: Executor, row: { id: string; user_id: string; token_hash: string; expires_at: Date }): Promise<void> {
  // A user's spent and expired challenges go when a new one is made.
  await db
    .deleteFrom('mfa_challenges')
    .where('user_id', '=', row.user_id)
    .where((eb) => eb.or([eb('used_at', 'is not', null), eb('expires_at', '<', sql<Date>`now()`)]))
    .execute();
  await db.insertInto('mfa_challenges').values(row).execute();
}

/** A live challenge by its token's digest, locked for the rest of the transaction. */
export async function lockLiveChallenge(db: Executor, tokenHash: string) {
  return db
    .selectFrom('mfa_challenges')
    .select(['id', 'user_id', 'failures'])
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .forUpdate()
    .executeTakeFirst();
}

export async function spendChallenge(db: Executor, id: string): Promise<void> {
  await db.updateTable('mfa_challenges').set({ used_at: sql`now()` }).where('id', '=', id).execute();
}

/** Counts a wrong code on a challenge; at `maxFailures` the challenge is spent. */
export async function failChallenge(db: Executor, id: string, maxFailures: number): Promise<void> {
  await db
    .updateTable('mfa_challenges')
    .set((eb) => ({
      failures: eb('failures', '+', 1),
      used_at: sql`case when failures + 1 >= ${maxFailures} then now() else used_at end`,
    }))
    .where('id', '=', id)
    .execute();
}

export async function findPolicy(db: Executor) {
  return db.selectFrom('auth_policy').select(['require_totp_for_roles', 'updated_at']).where('id', '=', 1).executeTakeFirstOrThrow();
}

/** Replaces the policy; with `expectedUpdatedAt`, only that version (else undefined). */
export async function replacePolicy(db: Executor, roles: RoleName[], expectedUpdatedAt: string | null) {
  let query = db
    .updateTable('auth_policy')
    .set({ require_totp_for_roles: sql<RoleName[]>`${sql.val(roles)}::text[]`, updated_at: sql`now()` })
    .where('id', '=', 1);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return query.returning(['require_totp_for_roles', 'updated_at']).executeTakeFirst();
}
