// Fleet tasks: one parent task (`kind: fleet`, no agent) and one child task per agent of its target, written
// together. The rollout: at most `concurrency` children are claimable at a time (the rest wait `held`); each
// child that ends lets the next one go, and moves the parent's counts, progress and status, under the parent's
// row lock in the transaction that ends the child. Failures reaching the threshold stop the rollout (the
// children not started are cancelled); cancelling the parent does the same. Locks are taken child first, then
// parent; what locks a parent first (a stop) skips the children another transaction holds.
import { v7 as uuidv7 } from 'uuid';
import type { components } from '../../../generated/openapi.d.ts';
import { schemaProperty } from '../../contract.ts';
import type { Executor } from '../../db/executor.ts';
import { owningTeam } from '../../db/owning-team.ts';
import type { FleetSettings, TaskRow } from '../../db/schema.ts';
import { ApiError, notFound, type ErrorDetail } from '../../http/errors.ts';
import { findGroup } from '../agent-groups/agent-groups.repository.ts';
import { matchingAgents, type AgentFilter } from '../agents/agents.repository.ts';
import { assertCommandAllowed } from '../policies/policies.enforce.ts';
import { isFinished, recordTaskCreations, recordTaskEnds, resolveAction } from './tasks.lifecycle.ts';
import * as repo from './tasks.repository.ts';

type Schemas = components['schemas'];
export type CreateTaskRequest = Schemas['CreateTaskRequest'];

/** Who creates a fleet task: the caller's teams (the target resolves within them) and user (`created_by`). */
export interface FleetActor {
  teamIds: readonly string[];
  userId: string | null;
  /** The schedule firing it, if one is: its execution (the schedules module's) links to the task, not the task to it. */
  scheduleId?: string | null;
}

/** The contract's defaults and the largest target (the `maxItems` of `target.agent_ids`). */
const DEFAULT_CONCURRENCY = schemaProperty('CreateTaskRequest', 'concurrency').default as number;
const DEFAULT_THRESHOLD = schemaProperty('CreateTaskRequest', 'failure_threshold_percent').default as number;
const MAX_TARGET = schemaProperty('FleetTarget', 'agent_ids').maxItems!;
/** Refused ids named in a 422, at most. */
const MAX_DETAILS = 100;

const SKIPPED_OFFLINE = 'BIZ_AGENT_OFFLINE: the agent was offline when the fleet task was created';

/** The team of the task and the agents its target resolves to there (ordered: the rollout's order). */
async function resolveTarget(tx: Executor, actor: FleetActor, request: CreateTaskRequest): Promise<{ teamId: string; agents: Array<{ id: string; status: string }> }> {
  const { target } = request;
  if (target.group_id !== undefined) {
    const teams = request.team_id === undefined ? actor.teamIds : actor.teamIds.filter((id) => id === request.team_id);
    const group = await findGroup(tx, target.group_id, teams);
    if (!group) throw notFound('Agent group', target.group_id);
    return { teamId: group.team_id, agents: await targetAgents(tx, { teamIds: [group.team_id], groupId: group.id }) };
  }
  const teamId = owningTeam(actor, request.team_id);
  if (target.agent_ids !== undefined) {
    const ids = target.agent_ids;
    const found = new Map((await matchingAgents(tx, { teamIds: [teamId], ids }, ids.length)).map((agent) => [agent.id, agent]));
    const refused = ids.flatMap((id, i) => (found.has(id) ? [] : [i]));
    // Another team's agent and no agent at all are refused alike, by position only: nothing says which exists.
    if (refused.length > 0) {
      const details: ErrorDetail[] = refused.slice(0, MAX_DETAILS).map((i) => ({ field: `target.agent_ids.${i}`, message: "not an agent of the task's team" }));
      const more = refused.length > MAX_DETAILS ? ` (the first ${MAX_DETAILS} are listed)` : '';
      throw new ApiError('BIZ_AGENT_NOT_IN_TEAM', `${refused.length} of the agents are not agents of the task's team; nothing was created${more}`, { details });
    }
    return { teamId, agents: ids.map((id) => found.get(id)!) };
  }
  const filter = target.filter ?? {};
  return {
    teamId,
    agents: await targetAgents(tx, {
      teamIds: [teamId],
      status: filter.status,
      platform: filter.platform,
      search: filter.search,
      groupId: filter.group_id,
      createdAfter: filter.created_after,
      createdBefore: filter.created_before,
    }),
  };
}

async function targetAgents(tx: Executor, filter: AgentFilter): Promise<Array<{ id: string; status: string }>> {
  const agents = await matchingAgents(tx, filter, MAX_TARGET + 1);
  if (agents.length === 0) throw new ApiError('BIZ_FLEET_TARGET_EMPTY', 'The target matches no agent of the team');
  if (agents.length > MAX_TARGET) throw new ApiError('BIZ_FLEET_TARGET_TOO_LARGE', `The target matches more than ${MAX_TARGET} agents, the most one fleet task runs on`);
  return agents;
}

/**
 * Resolves the target once (within actor.teamIds), writes the parent and one child per agent in the given
 * transaction, records the events, and returns the parent row. Throws ApiError 404/422 like the HTTP operation.
 */
export async function createFleetTask(tx: Executor, actor: FleetActor, request: CreateTaskRequest): Promise<TaskRow> {
  const { teamId, agents } = await resolveTarget(tx, actor, request);
  // A template runs only within the task's team.
  const action = await resolveAction(tx, [teamId], request);
  // A command any policy on the target's agents forbids is refused as a whole: nothing is created.
  if (action.type === 'command') await assertCommandAllowed(tx, teamId, agents.map((agent) => agent.id), action.parameters, request.template ? 'template' : 'action.parameters.command');
  const concurrency = request.concurrency ?? DEFAULT_CONCURRENCY;
  const settings: FleetSettings = {
    target: request.target,
    concurrency,
    failure_threshold_percent: request.failure_threshold_percent ?? DEFAULT_THRESHOLD,
    queue_if_offline: request.queue_if_offline ?? false,
  };
  let runnable = 0;
  const children: repo.NewChild[] = agents.map((agent) => {
    const offline = agent.status !== 'online';
    const skipped = offline && !settings.queue_if_offline;
    const held = !skipped && runnable++ >= concurrency;
    return { id: uuidv7(), agent_id: agent.id, held, skipped, queued_offline: offline && !skipped };
  });
  const skipped = children.length - runnable;
  // Every agent skipped: nothing to run, and nothing failed.
  const finished = runnable === 0;
  const parent = await repo.insertTask(tx, {
    id: uuidv7(),
    team_id: teamId,
    agent_id: null,
    kind: 'fleet',
    type: action.type,
    parameters: JSON.stringify(action.parameters),
    template_id: action.template_id,
    template_version: action.template_version,
    created_by: actor.userId,
    fleet: JSON.stringify(settings),
    fleet_total: children.length,
    fleet_pending: runnable,
    fleet_skipped_offline: skipped,
    ...(finished ? { status: 'succeeded' as const, progress: 100, finished_at: new Date() } : {}),
  });
  const rows = await repo.insertChildren(tx, parent, children, SKIPPED_OFFLINE);
  await recordTaskCreations(tx, [parent, ...rows]);
  await recordTaskEnds(tx, [...rows.filter((row) => row.status === 'cancelled'), ...(finished ? [parent] : [])]);
  return parent;
}

/** A child that moved: its status (and whether it was held) before, and its row after (`skipped`: cancelled as offline). */
export interface ChildMove {
  before: Pick<TaskRow, 'status' | 'held'>;
  after: TaskRow;
  skipped?: boolean;
}

const COUNT_COLUMN = {
  pending: 'fleet_pending',
  running: 'fleet_running',
  succeeded: 'fleet_succeeded',
  failed: 'fleet_failed',
  cancelled: 'fleet_cancelled',
} as const satisfies Record<TaskRow['status'], keyof repo.FleetCountColumns>;

const countsOf = (row: TaskRow): repo.FleetCountColumns => ({
  fleet_pending: row.fleet_pending,
  fleet_running: row.fleet_running,
  fleet_succeeded: row.fleet_succeeded,
  fleet_failed: row.fleet_failed,
  fleet_cancelled: row.fleet_cancelled,
  fleet_skipped_offline: row.fleet_skipped_offline,
});

/** How a fleet task stands once its counts are these: its progress, and its end when every child has finished. */
function standing(parent: TaskRow, counts: repo.FleetCountColumns): { progress: number; done: TaskRow['status'] | null } {
  const unfinished = counts.fleet_pending + counts.fleet_running;
  const progress = Math.floor(((parent.fleet_total - unfinished) * 100) / parent.fleet_total);
  if (unfinished > 0) return { progress, done: null };
  return { progress, done: counts.fleet_failed > 0 ? 'failed' : counts.fleet_cancelled > 0 ? 'cancelled' : 'succeeded' };
}

/** Why a fleet task that just ended did not succeed, or null. */
function endError(status: TaskRow['status'], stopped: string | null, counts: repo.FleetCountColumns, total: number): string | null {
  if (status === 'failed') return stopped ?? `${counts.fleet_failed} of ${total} children failed`;
  if (status === 'cancelled') return `${counts.fleet_cancelled} of ${total} children were cancelled`;
  return null;
}

/**
 * Moves the counts of the fleet tasks whose children moved (in the caller's transaction, which holds the
 * children's rows): for each parent, under its row lock, the counts; the next held children let go, one per
 * child that ended while claimable; the stop once failures reach the threshold; the parent's end once every
 * child has finished, with its event. Children of no fleet task, and moves within a status, change nothing.
 */
export async function settleParents(tx: Executor, moves: readonly ChildMove[]): Promise<void> {
  const byParent = new Map<string, ChildMove[]>();
  for (const move of moves) if (move.after.parent_id !== null && move.before.status !== move.after.status) byParent.set(move.after.parent_id, [...(byParent.get(move.after.parent_id) ?? []), move]);
  // Parents in id order, so two transactions moving children of the same parents never wait on each other in a cycle.
  for (const parentId of [...byParent.keys()].sort()) {
    const parent = await repo.lockTask(tx, parentId);
    const counts = countsOf(parent);
    let freed = 0;
    for (const { before, after, skipped } of byParent.get(parentId)!) {
      counts[COUNT_COLUMN[before.status]] -= 1;
      counts[skipped ? 'fleet_skipped_offline' : COUNT_COLUMN[after.status]] += 1;
      if (isFinished(after.status) && !before.held) freed += 1;
    }
    const settings = parent.fleet!;
    let stopped: string | null = parent.stopped_reason;
    const ended: TaskRow[] = [];
    if (!isFinished(parent.status)) {
      const threshold = settings.failure_threshold_percent;
      if (threshold < 100 && counts.fleet_failed > 0 && counts.fleet_failed * 100 >= threshold * parent.fleet_total) {
        stopped = `failure threshold reached: ${counts.fleet_failed} of ${parent.fleet_total} children failed (threshold ${threshold}%)`;
        const cancelled = await repo.cancelUnstarted(tx, parentId, `rollout stopped: ${stopped}`);
        counts.fleet_pending -= cancelled.length;
        counts.fleet_cancelled += cancelled.length;
        ended.push(...cancelled);
      } else await repo.releaseHeld(tx, parentId, freed);
    }
    const { progress, done } = standing(parent, counts);
    const status: TaskRow['status'] = isFinished(parent.status)
      ? parent.status
      : stopped !== null
        ? 'failed'
        : (done ?? (counts.fleet_running > 0 || parent.status === 'running' ? 'running' : 'pending'));
    const updated = await repo.updateFleet(tx, parentId, {
      ...counts,
      status,
      progress,
      stopped_reason: stopped,
      error: parent.error ?? endError(status, stopped, counts, parent.fleet_total),
      finished: isFinished(status),
    });
    if (isFinished(status) && !isFinished(parent.status)) ended.push(updated);
    await recordTaskEnds(tx, ended);
  }
}

/** Cancels a fleet task: its children not started are cancelled, running ones finish and are counted. Answers it. */
export async function cancelFleetTask(tx: Executor, parent: TaskRow, reason: string): Promise<TaskRow> {
  const cancelled = await repo.cancelUnstarted(tx, parent.id, reason);
  const counts = countsOf(parent);
  counts.fleet_pending -= cancelled.length;
  counts.fleet_cancelled += cancelled.length;
  const updated = await repo.updateFleet(tx, parent.id, {
    ...counts,
    status: 'cancelled',
    progress: standing(parent, counts).progress,
    stopped_reason: reason,
    error: reason,
    finished: true,
  });
  await recordTaskEnds(tx, [...cancelled, updated]);
  return updated;
}

/**
 * Before an agent is deleted (its tasks go with it): its unfinished children of fleet tasks end as cancelled,
 * counted so, so that their fleet tasks still finish. In the transaction that deletes the agent.
 */
export async function cancelChildrenOfAgent(tx: Executor, agentId: string): Promise<void> {
  const moves = await repo.cancelChildrenOfAgent(tx, agentId, 'cancelled: the agent was deleted');
  await recordTaskEnds(tx, moves.map((move) => move.after));
  await settleParents(tx, moves);
}

/**
 * Agents just gone offline: their pending children of fleet tasks that do not queue for offline agents are
 * skipped (cancelled, counted `skipped_offline`), so the rollout moves on instead of waiting for them.
 */
export async function skipChildrenOfOfflineAgents(tx: Executor, agentIds: readonly string[]): Promise<void> {
  const moves = await repo.skipChildrenOfAgents(tx, agentIds, 'BIZ_AGENT_OFFLINE: the agent went offline before running it');
  await recordTaskEnds(tx, moves.map((move) => move.after));
  await settleParents(tx, moves.map((move) => ({ ...move, skipped: true })));
}
