// What every task shares, whoever changes it (operators, agents, the sweeper, fleet tasks): which statuses are
// final, the events of its creation and end, and the action it runs, checked as the action operations check theirs.
import type { components } from '../../../generated/openapi.d.ts';
import { schemaProperty } from '../../contract.ts';
import type { Executor } from '../../db/executor.ts';
import type { TaskRow } from '../../db/schema.ts';
import { recordEvents } from '../../events/outbox.ts';
import { ApiError } from '../../http/errors.ts';
import { actionCheckers, parametersRefused, resolveTemplateAction } from '../task-templates/task-templates.service.ts';
import { toTask } from './tasks.mapper.ts';

type Schemas = components['schemas'];

const FINISHED = new Set<TaskRow['status']>(['succeeded', 'failed', 'cancelled']);
export const isFinished = (status: TaskRow['status']) => FINISHED.has(status);

const END_EVENT = { succeeded: 'task.completed', failed: 'task.failed', cancelled: 'task.cancelled' } as const;

/** Records `task.created` for each new task in the caller's transaction. */
export async function recordTaskCreations(db: Executor, rows: readonly TaskRow[]): Promise<void> {
  await recordEvents(db, rows.map((row) => ({ type: 'task.created' as const, teamId: row.team_id, data: toTask(row) })));
}

/** Records the end of each finished task (`task.completed`, `task.failed`, `task.cancelled`) in the caller's transaction. */
export async function recordTaskEnds(db: Executor, rows: readonly TaskRow[]): Promise<void> {
  await recordEvents(
    db,
    rows.flatMap((row) => (row.status in END_EVENT ? [{ type: END_EVENT[row.status as keyof typeof END_EVENT], teamId: row.team_id, data: toTask(row) }] : [])),
  );
}

/** An action as a task records it: its type, its parameters, and the template (and version) it came from. */
export interface TaskAction {
  type: Schemas['TaskType'];
  parameters: Schemas['TaskParameters'];
  template_id: string | null;
  template_version: number | null;
}

/** What an action given as `{ type, parameters }` must carry, as its own operation would require it. */
const checkAction = actionCheckers('action.parameters');
const COMMAND_TIMEOUT = schemaProperty('CommandRequest', 'timeout_seconds').default as number;

/** What asks for an action: one of `action` (`{ type, parameters }`) or `template` (a task template to run). */
export interface ActionChoice {
  action?: Schemas['TaskAction'];
  template?: Schemas['TaskTemplateRef'];
}

/**
 * The action asked for: a template's resolved within `teamIds` (404 outside them; 422 for parameters its schema, or
 * its action's, refuses), or the one given (422 for parameters its action's request would refuse). A command's
 * defaults are filled in, as `runAgentCommand` fills them.
 */
export async function resolveAction(db: Executor, teamIds: readonly string[], choice: ActionChoice): Promise<TaskAction> {
  let action: TaskAction;
  if (choice.template) {
    const { type, parameters, template_id, template_version } = await resolveTemplateAction(db, teamIds, choice.template);
    action = { type, parameters, template_id, template_version };
  } else if (choice.action) {
    const parameters = choice.action.parameters ?? {};
    const problem = checkAction[choice.action.type](parameters);
    if (problem) throw parametersRefused(problem, "The action's");
    action = { type: choice.action.type, parameters, template_id: null, template_version: null };
  } else throw new ApiError('VAL_REQUIRED_FIELD', 'Send an action or a template', { details: [{ field: 'action', message: 'required unless template is given' }] });
  if (action.type !== 'command') return action;
  return { ...action, parameters: { args: [], timeout_seconds: COMMAND_TIMEOUT, ...action.parameters } };
}
