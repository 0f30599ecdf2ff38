// What every task shares, whoever changes it (operators, agents, the sweeper, fleet tasks): which statuses are
// final, the events of its creation and end, and the action it runs, checked as the action operations check theirs.
import type { components } from '../../../generated/openapi.d.ts';
import { schemaProperty } from '../../contract.ts';
import type { Executor } from '../../db/executor.ts';
import type { TaskRow } from '../../db/schema.ts';
import { recordEvents } from '../../events/outbox.ts';
import { ApiError } from '../../http/errors.ts';
import { resolveTemplateAction } from '../task-templates/task-templates.service.ts';
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

/** What each type needs in its parameters, as its action operation's body requires it. */
const REQUIRED_PARAMETER: Partial<Record<Schemas['TaskType'], 'version' | 'command'>> = { update_agent: 'version', command: 'command' };
const COMMAND_TIMEOUT = schemaProperty('CommandRequest', 'timeout_seconds').default as number;

/** What asks for an action: one of `action` (`{ type, parameters }`) or `template` (a task template to run). */
export interface ActionChoice {
  action?: Schemas['TaskAction'];
  template?: Schemas['TaskTemplateRef'];
}

/**
 * The action asked for: a template's resolved within `teamIds` (404 outside them; 422 for parameters its schema
 * refuses), or the one given. Either way 422 when its type's parameter is missing; a command's defaults filled in.
 */
export async function resolveAction(db: Executor, teamIds: readonly string[], choice: ActionChoice): Promise<TaskAction> {
  if (choice.template) {
    const resolved = await resolveTemplateAction(db, teamIds, choice.template);
    return checkedAction({ type: resolved.type, parameters: resolved.parameters, template_id: resolved.template_id, template_version: resolved.template_version }, 'template');
  }
  if (!choice.action) throw new ApiError('VAL_REQUIRED_FIELD', 'Send an action or a template', { details: [{ field: 'action', message: 'required unless template is given' }] });
  return agentAction(choice.action);
}

/** An action given as `{ type, parameters }`, checked (see `resolveAction`). */
const agentAction = (action: Schemas['TaskAction']): TaskAction =>
  checkedAction({ type: action.type, parameters: action.parameters ?? {}, template_id: null, template_version: null }, 'action');

function checkedAction(action: TaskAction, field: 'action' | 'template'): TaskAction {
  const parameters = { ...action.parameters };
  const required = REQUIRED_PARAMETER[action.type];
  if (required && parameters[required] === undefined) {
    throw new ApiError('VAL_REQUIRED_FIELD', `A ${action.type} task needs parameters.${required}`, {
      details: [{ field: `${field}.parameters.${required}`, message: `required for type ${action.type}` }],
    });
  }
  if (action.type === 'command') Object.assign(parameters, { args: parameters.args ?? [], timeout_seconds: parameters.timeout_seconds ?? COMMAND_TIMEOUT });
  return { ...action, parameters };
}
