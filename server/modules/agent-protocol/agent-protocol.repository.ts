import { sql } from 'kysely';
import type { components } from '../../../generated/openapi.d.ts';

type AgentStatus = components['schemas']['AgentStatus'];
import { agentColumns } from '../agents/agents.repository.ts';
import type { Executor } from '../../db/executor.ts';
import type { AgentRow } from '../../db/schema.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';

const tokenColumns = ['id', 'team_id', 'name', 'prefix', 'uses', 'max_uses', 'expires_at', 'created_at'] as const;

export const live = (db: Executor, teamId: string) => db.selectFrom('enrollment_tokens').where('team_id', '=', teamId).where('revoked_at', 'is', null);

export const listTokens = (db: Executor, teamId: string, keys: SortKey<'created_at'>[], window: Window) =>
  pageOf(live(db, teamId).select(tokenColumns), keys, window, (field) => sql.ref(field)).execute();
export type EnrollmentTokenRow = Awaited<ReturnType<typeof listTokens>>[number];

export async function countTokens(db: Executor, teamId: string): Promise<number> {
  return (await live(db, teamId).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export async function insertToken(
  db: Executor,
  row: { id: string; team_id: string; name: string; prefix: string; secret_hash: string; max_uses: number | null; expires_at: Date },
): Promise<EnrollmentTokenRow> {
  return db.insertInto('enrollment_tokens').values(row).returning(tokenColumns).executeTakeFirstOrThrow();
}

export async function revokeToken(db: Executor, teamId: string, id: string): Promise<boolean> {
  const result = await db.updateTable('enrollment_tokens').set({ revoked_at: sql`now()` }).where('id', '=', id).where('team_id', '=', teamId).where('revoked_at', 'is', null).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** The token with this prefix (its secret's digest to compare), for an enrolment. */
export const findTokenByPrefix = (db: Executor, prefix: string) =>
  db.selectFrom('enrollment_tokens').select(['id', 'team_id', 'secret_hash']).where('prefix', '=', prefix).executeTakeFirst();

/** Counts one use of the token if it is still usable (not revoked, not expired, uses left); answers whether it was. */
export async function spendTokenUse(db: Executor, id: string): Promise<boolean> {
  const result = await db
    .updateTable('enrollment_tokens')
    .set({ uses: sql`uses + 1` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .where((w) => w.or([w('max_uses', 'is', null), w('uses', '<', w.ref('max_uses'))]))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * The enrolling host as an agent of the token's team, online and seen now: a new one, or the agent of the same
 * hostname (any case) with the host's facts updated. One statement, on the (team, hostname) unique index.
 */
export async function upsertEnrolledAgent(
  db: Executor,
  host: { id: string; team_id: string; hostname: string; ip_address: string; platform: AgentRow['platform']; os_version: string | null; agent_version: string | null },
): Promise<AgentRow> {
  const seen = { status: 'online' as const, last_seen: sql<Date>`now()` };
  return db
    .insertInto('agents')
    .values({ ...host, ...seen, tags: [] })
    .onConflict((oc) =>
      oc.expression(sql`team_id, lower(hostname)`).doUpdateSet((eb) => ({
        ip_address: eb.ref('excluded.ip_address'),
        platform: eb.ref('excluded.platform'),
        os_version: eb.ref('excluded.os_version'),
        agent_version: eb.ref('excluded.agent_version'),
        ...seen,
        updated_at: sql<Date>`now()`,
      })),
    )
    .returning(agentColumns)
    .executeTakeFirstOrThrow();
}

export async function replaceAgentKey(db: Executor, key: { id: string; agent_id: string; prefix: string; secret_hash: string }): Promise<void> {
  await db.updateTable('agent_keys').set({ revoked_at: sql`now()` }).where('agent_id', '=', key.agent_id).where('revoked_at', 'is', null).execute();
  await db.insertInto('agent_keys').values(key).execute();
}

/** The agent keys with these prefixes and their agents, for authentication (many at once: see app.ts). */
export const findAgentKeys = (db: Executor, prefixes: readonly string[]) =>
  db
    .selectFrom('agent_keys')
    .innerJoin('agents', 'agents.id', 'agent_keys.agent_id')
    .select(['agent_keys.prefix', 'agent_keys.secret_hash', 'agent_keys.revoked_at', 'agents.id as agent_id', 'agents.team_id', 'agents.hostname'])
    .where('agent_keys.prefix', 'in', prefixes)
    .execute();

/** Turns online agents silent since `silentSince` offline; answers them as they are now. */
export const markSilentAgentsOffline = (db: Executor, silentSince: Date): Promise<AgentRow[]> =>
  db
    .updateTable('agents')
    .set({ status: 'offline', updated_at: sql`now()` })
    .where('status', '=', 'online')
    .where((w) => w.or([w('last_seen', '<', silentSince), w('last_seen', 'is', null)]))
    .returning(agentColumns)
    .execute();

/** Marks the agent seen (as a heartbeat does) and locks its row for the rest of the transaction. */
export async function touchAgent(db: Executor, agentId: string): Promise<{ status: AgentStatus; previous: AgentStatus; team_id: string } | undefined> {
  const { rows } = await sql<{ status: AgentStatus; previous: AgentStatus; team_id: string }>`
    with previous as (select status from agents where id = ${agentId} for update)
    update agents
       set last_seen = now(), updated_at = now(),
           status = case when status = 'maintenance' then status else 'online' end
     where id = ${agentId}
    returning status, team_id, (select status from previous) as previous`.execute(db);
  return rows[0];
}


export interface SeenAgent {
  id: string;
  status: AgentStatus;
  previous: AgentStatus;
  team_id: string;
  /** Its tasks waiting to be claimed (not those a fleet task's rollout holds back). */
  pending: number;
}

/** One sign of life: the agent and when the server received it. */
export interface SignOfLife {
  id: string;
  at: Date;
}

/**
 * Marks many agents seen at once (heartbeats, claims and reports of many requests: db/batcher.ts), as
 * `touchAgent` does one, and answers each with its status before and after and its pending tasks. `last_seen`
 * becomes when the sign was received (never earlier than it was: a batch written late, or again after a
 * failure, does not move it back). Rows are locked in id order, so two such batches never deadlock each
 * other. Unknown ids are left out.
 */
export async function touchAgents(db: Executor, signs: readonly SignOfLife[]): Promise<SeenAgent[]> {
  const { rows } = await sql<SeenAgent>`
    with seen as (
      select id, max(at) as at from jsonb_to_recordset(${JSON.stringify(signs)}::jsonb) as s(id uuid, at timestamptz) group by id),
    locked as (
      select a.id, a.status, seen.at
        from agents a
        join seen on seen.id = a.id
       order by a.id
         for update of a)
    update agents a
       set last_seen = greatest(a.last_seen, locked.at), updated_at = now(),
           status = case when a.status = 'maintenance' then a.status else 'online' end
      from locked
     where a.id = locked.id
    returning a.id::text as id, a.status, locked.status as previous, a.team_id::text as team_id,
              (select count(*)::int from tasks t where t.agent_id = a.id and t.status = 'pending' and not t.held) as pending`.execute(db);
  return rows;
}
