// What hosts do: enrol with a team's token (getting their own key), heartbeat, claim their pending
// tasks and report on them. Also the team's enrollment tokens, and the sweeper that turns silent
// agents offline and fails their running tasks.
import { sql, type Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { ENROLLMENT_TOKEN_PATTERN, randomToken, sameDigest, sha256 } from '../../auth/secrets.ts';
import type { Database } from '../../db/schema.ts';
import type { TaggedCache } from '../../edge/tagged-cache.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import { listPage, type ListQuery } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { toAgent } from '../agents/agents.mapper.ts';
import { agentColumns } from '../agents/agents.repository.ts';
import { teamTag } from '../agents/agents.service.ts';
import type { SignsOfLife } from './agent-protocol.sign-of-life.ts';
import { findTeam } from '../teams/teams.repository.ts';
import { visibleTeams } from '../teams/teams.service.ts';
import { recordEvent } from '../../events/outbox.ts';
import { settleParents, skipChildrenOfOfflineAgents } from '../tasks/tasks.fleet.ts';
import { isFinished, recordTaskEnds } from '../tasks/tasks.lifecycle.ts';
import { toTask } from '../tasks/tasks.mapper.ts';
import * as tasks from '../tasks/tasks.repository.ts';
import * as repo from './agent-protocol.repository.ts';
import type { CertificateService } from '../certificates/certificates.service.ts';

type Schemas = components['schemas'];

/** 8 letters and digits after a kind prefix: the visible, indexed part of a secret. */
export const secretPrefix = (kind: 'oet' | 'oak') => `${kind}_${randomToken(12).replace(/[-_]/g, '').slice(0, 8).padEnd(8, '0')}`;


function toEnrollmentToken(row: repo.EnrollmentTokenRow): Schemas['EnrollmentToken'] {
  return {
    id: row.id,
    team_id: row.team_id,
    name: row.name,
    prefix: row.prefix,
    uses: row.uses,
    max_uses: row.max_uses,
    expires_at: row.expires_at.toISOString(),
    created_at: row.created_at.toISOString(),
  };
}

const refused = () => new ApiError('AUTH_INVALID_TOKEN', 'The enrollment token is not valid');

export class AgentProtocolService {
  readonly #db: Kysely<Database>;
  readonly #cache: TaggedCache;
  readonly #signs: SignsOfLife;
  readonly #certificates: CertificateService;

  constructor(db: Kysely<Database>, cache: TaggedCache, signs: SignsOfLife, certificates: CertificateService) {
    this.#db = db;
    this.#cache = cache;
    this.#signs = signs;
    this.#certificates = certificates;
  }

  async #team(caller: Caller, teamId: string): Promise<void> {
    if (!(await findTeam(this.#db, teamId, visibleTeams(caller)))) throw notFound('Team', teamId);
  }

  async listTokens(caller: Caller, teamId: string, query: ListQuery, ctx: RequestContext): Promise<{ items: Schemas['EnrollmentToken'][]; pagination: Pagination }> {
    await this.#team(caller, teamId);
    const { rows, pagination } = await listPage({ ...query, sort: 'created_at:desc' }, ctx, {
      sortable: ['created_at'] as const,
      defaultSort: 'created_at:desc',
      filter: teamId,
      rows: (keys, window) => repo.listTokens(this.#db, teamId, keys, window),
      count: () => repo.countTokens(this.#db, teamId),
    });
    return { items: rows.map(toEnrollmentToken), pagination };
  }

  async createToken(caller: Caller, teamId: string, input: Schemas['EnrollmentTokenCreate']): Promise<Schemas['EnrollmentTokenCreated']> {
    await this.#team(caller, teamId);
    const prefix = secretPrefix('oet');
    const secret = `${prefix}_${randomToken(32)}`;
    const row = await repo.insertToken(this.#db, {
      id: uuidv7(),
      team_id: teamId,
      name: input.name,
      prefix,
      secret_hash: sha256(secret),
      max_uses: input.max_uses ?? null,
      expires_at: new Date(Date.now() + (input.expires_in_hours ?? 168) * 3600_000),
    });
    return { ...toEnrollmentToken(row), secret };
  }

  async revokeToken(caller: Caller, teamId: string, id: string): Promise<void> {
    await this.#team(caller, teamId);
    if (!(await repo.revokeToken(this.#db, teamId, id))) throw notFound('Enrollment token', id);
  }

  /** Joins (or re-joins, by hostname) the token's team; the agent gets a new key, the old one stops working. */
  async enroll(input: Schemas['EnrollRequest']): Promise<Schemas['Enrollment']> {
    const match = ENROLLMENT_TOKEN_PATTERN.exec(input.enrollment_token);
    if (!match) throw refused();
    const keyPrefix = secretPrefix('oak');
    const agentKey = `${keyPrefix}_${randomToken(32)}`;
    const token = await repo.findTokenByPrefix(this.#db, match[1]!);
    if (!token || !sameDigest(sha256(input.enrollment_token), token.secret_hash)) throw refused();
    // A CSR is checked before anything is written: a bad one enrols nothing (422).
    const csr = input.csr === undefined ? undefined : await this.#certificates.check(input.csr);
    let issued: Schemas['IssuedCertificate'] | undefined;
    const agent = await this.#db.transaction().execute(async (trx) => {
      const enrolled = await repo.upsertEnrolledAgent(trx, {
        id: uuidv7(),
        team_id: token.team_id,
        hostname: input.hostname,
        ip_address: input.ip_address,
        platform: input.platform,
        os_version: input.os_version ?? null,
        agent_version: input.agent_version ?? null,
      });
      await repo.replaceAgentKey(trx, { id: uuidv7(), agent_id: enrolled.id, prefix: keyPrefix, secret_hash: sha256(agentKey) });
      // Its earlier certificates end with its earlier key; a CSR gets it a new one.
      await this.#certificates.supersedeAll(trx, enrolled.id);
      if (csr) issued = await this.#certificates.issue(trx, enrolled.id, csr);
      await recordEvent(trx, 'agent.enrolled', enrolled.team_id, toAgent(enrolled));
      // Last: the token's row stays locked only from here to the commit, so the enrolments of one token (a
      // fleet booting) overlap all but this step. Whether it is still usable is decided here, under that lock.
      if (!(await repo.spendTokenUse(trx, token.id))) throw refused();
      return enrolled;
    });
    await this.#cache.invalidate([teamTag(agent.team_id)]);
    return { agent: toAgent(agent), agent_key: agentKey, ...(issued ? { certificate: issued.certificate, ca_chain: issued.ca_chain } : {}) };
  }

  /** A sign of life, written with other agents' in one batch (agent-protocol.sign-of-life.ts). */
  async heartbeat(agent: Caller): Promise<Schemas['Heartbeat']> {
    const { status, pending } = await this.#signs.seen(agent.agentId!);
    return { agent_id: agent.agentId!, status, pending_tasks: pending, server_time: new Date().toISOString() };
  }

  /**
   * A sign of life too; an idle agent (no pending task, which the sign of life answers) costs nothing more, so
   * a fleet polling for work costs what its heartbeats do.
   */
  async claim(agent: Caller, max: number): Promise<Schemas['Task'][]> {
    const { pending } = await this.#signs.seen(agent.agentId!, { exact: true });
    if (pending === 0) return [];
    return (await tasks.claimTasks(this.#db, agent.agentId!, max)).map(toTask);
  }

  async progress(agent: Caller, taskId: string, report: Schemas['TaskProgressReport']): Promise<Schemas['Task']> {
    const row = await this.#db.transaction().execute(async (trx) => {
      const task = await tasks.lockAgentTask(trx, taskId, agent.agentId!);
      // A child held back by its fleet task's rollout is not the agent's to run yet.
      if (!task || task.held) throw notFound('Task', taskId);
      if (isFinished(task.status)) throw new ApiError('BIZ_TASK_FINISHED', `Task ${taskId} is ${task.status}; stop working on it`);
      await tasks.appendLogs(trx, taskId, report.logs ?? [], uuidv7);
      const updated = await tasks.updateTask(trx, taskId, {
        ...(task.status === 'pending' ? { status: 'running' as const } : {}),
        ...(report.progress !== undefined ? { progress: report.progress } : {}),
        ...(report.eta !== undefined ? { eta: new Date(report.eta) } : {}),
        ...(report.status
          ? { status: report.status, progress: report.status === 'succeeded' ? 100 : (report.progress ?? task.progress), result: report.result ? JSON.stringify(report.result) : null, error: report.error ?? null, finished: true }
          : {}),
      });
      if (report.status) await recordTaskEnds(trx, [updated]);
      await settleParents(trx, [{ before: task, after: updated }]);
      return updated;
    });
    return toTask(row);
  }
}

/** Turns agents silent for `timeoutSeconds` offline and fails their running tasks, with their events; fleet tasks skip them. */
export async function sweepSilentAgents(db: Kysely<Database>, cache: TaggedCache, timeoutSeconds: number): Promise<{ offline: number; failed: number }> {
  const silentSince = new Date(Date.now() - timeoutSeconds * 1000);
  const { offline, failed } = await db.transaction().execute(async (trx) => {
    const offline = await repo.markSilentAgentsOffline(trx, silentSince);
    const failed = await tasks.failTasksOfSilentAgents(trx, silentSince);
    for (const agent of offline) await recordEvent(trx, 'agent.offline', agent.team_id, toAgent(agent));
    await recordTaskEnds(trx, failed);
    await settleParents(trx, failed.map((after) => ({ before: { status: 'running' as const, held: false }, after })));
    await skipChildrenOfOfflineAgents(trx, offline.map((agent) => agent.id));
    return { offline, failed };
  });
  const teams = [...new Set(offline.map((agent) => agent.team_id))];
  if (teams.length > 0) await cache.invalidate(teams.map(teamTag));
  return { offline: offline.length, failed: failed.length };
}
