// Thin Kysely queries for the certificate authority and its agent certificates, with explicit columns. A
// certificate belongs to its agent's team (joined, never copied: an agent that moves team takes its certificates).
import { sql } from 'kysely';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import type { Executor } from '../../db/executor.ts';
import type { AgentCertificatesTable } from '../../db/schema.ts';

export const SORTABLE_FIELDS = ['created_at', 'not_after'] as const;
export type CertificateSortField = (typeof SORTABLE_FIELDS)[number];
export type CertificateStatus = 'active' | 'revoked' | 'expired';
export type RevocationReason = NonNullable<AgentCertificatesTable['revocation_reason']>;

export interface CertificateFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  agentId?: string | undefined;
  status?: CertificateStatus | undefined;
}

const columns = [
  'c.id',
  'c.agent_id',
  'a.team_id',
  'c.serial_number',
  'c.fingerprint_sha256',
  'c.subject',
  'c.key_algorithm',
  'c.key_bits',
  'c.not_before',
  'c.not_after',
  'c.pem',
  'c.revoked_at',
  'c.revocation_reason',
  'c.created_at',
  'c.updated_at',
] as const;

const sortExpression = (field: CertificateSortField | 'id') => sql.ref(`c.${field}`);

function inTeams(db: Executor, teamIds: readonly string[]) {
  const query = db.selectFrom('agent_certificates as c').innerJoin('agents as a', 'a.id', 'c.agent_id');
  return teamIds.length === 0 ? query.where(sql<boolean>`false`) : query.where('a.team_id', 'in', teamIds);
}

function filtered(db: Executor, filter: CertificateFilter) {
  let query = inTeams(db, filter.teamIds);
  if (filter.agentId) query = query.where('c.agent_id', '=', filter.agentId);
  if (filter.status === 'revoked') query = query.where('c.revoked_at', 'is not', null);
  else if (filter.status === 'expired') query = query.where('c.revoked_at', 'is', null).where('c.not_after', '<=', sql<Date>`now()`);
  else if (filter.status === 'active') query = query.where('c.revoked_at', 'is', null).where('c.not_after', '>', sql<Date>`now()`);
  return query;
}

export const listCertificates = (db: Executor, filter: CertificateFilter, keys: SortKey<CertificateSortField>[], window: Window) =>
  pageOf(filtered(db, filter).select(columns), keys, window, sortExpression).execute();

export type CertificateRow = Awaited<ReturnType<typeof listCertificates>>[number];

export async function countCertificates(db: Executor, filter: CertificateFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findCertificate = (db: Executor, id: string, teamIds: readonly string[]): Promise<CertificateRow | undefined> =>
  inTeams(db, teamIds).select(columns).where('c.id', '=', id).executeTakeFirst();

/** A certificate just issued (whatever the caller's teams: the agent is the caller). */
export const findIssued = (db: Executor, id: string): Promise<CertificateRow> =>
  db.selectFrom('agent_certificates as c').innerJoin('agents as a', 'a.id', 'c.agent_id').select(columns).where('c.id', '=', id).executeTakeFirstOrThrow();

export async function insertCertificate(
  db: Executor,
  row: Omit<AgentCertificatesTable, 'created_at' | 'updated_at' | 'revoked_at' | 'revocation_reason'>,
): Promise<void> {
  await db.insertInto('agent_certificates').values(row).execute();
}

/** Revokes one certificate of the caller's teams (a revoked one keeps its first revocation); whether it is one of them. */
export async function revokeCertificate(db: Executor, id: string, teamIds: readonly string[], reason: RevocationReason): Promise<boolean> {
  if (teamIds.length === 0) return false;
  const found = await db
    .selectFrom('agent_certificates as c')
    .innerJoin('agents as a', 'a.id', 'c.agent_id')
    .select('c.id')
    .where('c.id', '=', id)
    .where('a.team_id', 'in', teamIds)
    .executeTakeFirst();
  if (!found) return false;
  await db
    .updateTable('agent_certificates')
    .set({ revoked_at: sql<Date>`now()`, revocation_reason: reason, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
  return true;
}

/** Revokes the agent's active certificates but the newest `keep` (all of them with 0), as `superseded`. */
export async function supersedeCertificates(db: Executor, agentId: string, keep: number): Promise<void> {
  const active = db
    .selectFrom('agent_certificates')
    .select('id')
    .where('agent_id', '=', agentId)
    .where('revoked_at', 'is', null)
    .where('not_after', '>', sql<Date>`now()`)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .offset(keep);
  await db
    .updateTable('agent_certificates')
    .set({ revoked_at: sql<Date>`now()`, revocation_reason: 'superseded', updated_at: sql<Date>`now()` })
    .where('id', 'in', active)
    .execute();
}

/** The revoked certificates that have not expired (what the CRL lists), oldest revocation first. */
export const listRevoked = (db: Executor) =>
  db
    .selectFrom('agent_certificates')
    .select(['serial_number', 'revoked_at', 'revocation_reason'])
    .where('revoked_at', 'is not', null)
    .where('not_after', '>', sql<Date>`now()`)
    .orderBy('revoked_at')
    .execute();

/** A certificate by serial number, as mutual TLS needs it: the agent it names, and whether it still holds. */
export const findCertificateForAuth = (db: Executor, serialNumber: string) =>
  db
    .selectFrom('agent_certificates as c')
    .innerJoin('agents as a', 'a.id', 'c.agent_id')
    .select(['c.serial_number', 'c.fingerprint_sha256', 'c.agent_id', 'a.team_id', 'a.hostname', 'c.revoked_at', 'c.not_after'])
    .where('c.serial_number', '=', serialNumber)
    .executeTakeFirst();

/** The stored CA (`agents`), if any. */
export const findAuthority = (db: Executor, name: string) =>
  db.selectFrom('certificate_authorities').select(['certificate_pem', 'private_key_sealed']).where('name', '=', name).executeTakeFirst();

/** Stores a CA unless one of that name is there already (another process started first): then that one stays. */
export async function insertAuthorityIfAbsent(db: Executor, row: { name: string; certificate_pem: string; private_key_sealed: string }): Promise<void> {
  await db.insertInto('certificate_authorities').values(row).onConflict((oc) => oc.column('name').doNothing()).execute();
}
