// One-time grants of sign-in (a state between start and callback, a code between callback and exchange), and
// the users, teams and memberships a sign-in through a provider matches, creates or grants.
import { sql } from 'kysely';
import type { Executor } from '../../db/executor.ts';
import type { RoleName } from '../../auth/permissions.ts';

export type GrantKind = 'state' | 'code';

export interface SpentGrant {
  provider: string;
  payload: Record<string, unknown>;
  expiresAt: Date;
}

/** Stores a grant under the digest of its secret; expired grants are swept on the way. */
export async function insertGrant(db: Executor, grant: { id: string; kind: GrantKind; provider: string; payload: object; expiresAt: Date }): Promise<void> {
  await db.deleteFrom('oauth_grants').where('expires_at', '<', sql<Date>`now() - interval '1 minute'`).execute();
  await db
    .insertInto('oauth_grants')
    .values({ id: grant.id, kind: grant.kind, provider: grant.provider, payload: JSON.stringify(grant.payload), expires_at: grant.expiresAt })
    .execute();
}

/** Takes a grant out (it can be spent once, by one process); `undefined` when there is none of that kind. */
export async function spendGrant(db: Executor, id: string, kind: GrantKind): Promise<SpentGrant | undefined> {
  const row = await db.deleteFrom('oauth_grants').where('id', '=', id).where('kind', '=', kind).returning(['provider', 'payload', 'expires_at']).executeTakeFirst();
  return row && { provider: row.provider, payload: row.payload, expiresAt: row.expires_at };
}

const signInColumns = ['id', 'email', 'role', 'active', 'password_changed_at'] as const;

export const findUserByEmail = (db: Executor, email: string) =>
  db.selectFrom('users').select(signInColumns).where(sql`lower(email)`, '=', email.toLowerCase()).executeTakeFirst();

export const findUserById = (db: Executor, id: string) => db.selectFrom('users').select(signInColumns).where('id', '=', id).executeTakeFirst();

/**
 * A new user without a password: the stored hash is not an argon2 hash, so no password ever verifies against it
 * (`login` refuses every password for the user).
 */
export const NO_PASSWORD = '!external';

export async function insertUser(db: Executor, user: { id: string; email: string; name: string; role: RoleName }) {
  return db
    .insertInto('users')
    .values({ ...user, password_hash: NO_PASSWORD })
    .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
    .returning(signInColumns)
    .executeTakeFirst();
}

export async function setRole(db: Executor, id: string, role: RoleName): Promise<void> {
  await db.updateTable('users').set({ role, updated_at: sql`now()` }).where('id', '=', id).execute();
}

/** The teams by id or by name (case-insensitive), as the team maps name them. */
export async function findTeams(db: Executor, refs: readonly string[]): Promise<Array<{ id: string; name: string }>> {
  if (refs.length === 0) return [];
  const ids = refs.filter((r) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(r));
  const names = refs.map((r) => r.toLowerCase());
  return db
    .selectFrom('teams')
    .select(['id', 'name'])
    .where((eb) => eb.or([...(ids.length ? [eb('id', 'in', ids)] : []), eb(sql`lower(name)`, 'in', names)]))
    .execute();
}

export async function addMemberships(db: Executor, userId: string, teamIds: readonly string[]): Promise<void> {
  if (teamIds.length === 0) return;
  await db
    .insertInto('team_members')
    .values(teamIds.map((team_id) => ({ team_id, user_id: userId })))
    .onConflict((oc) => oc.columns(['team_id', 'user_id']).doNothing())
    .execute();
}
