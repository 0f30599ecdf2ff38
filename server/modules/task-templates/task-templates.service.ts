// Task templates: named, versioned actions of a team. Team scope (another team's template is 404), names unique
// per team regardless of case, merge-patch semantics, If-Match preconditions. Every change makes a new version,
// kept in task_template_versions; a parameters schema is compiled with Ajv (the contract's setup) before it is
// stored, and running a template (`resolveTemplateAction`) checks the merged parameters against it.
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import type { Executor } from '../../db/executor.ts';
import { cursorValue } from '../../db/keyset.ts';
import { owningTeam } from '../../db/owning-team.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { dataSchemaChecker, schemaChecker, type SchemaProblem } from '../../http/schema-check.ts';
import { toTaskTemplate, toTaskTemplateVersion, type TaskTemplate, type TaskTemplateVersion } from './task-templates.mapper.ts';
import * as repo from './task-templates.repository.ts';

type Schemas = components['schemas'];
type TaskType = Schemas['TaskType'];
export type TaskTemplateListQuery = NonNullable<operations['listTaskTemplates']['parameters']['query']>;
export type TaskTemplateVersionListQuery = NonNullable<operations['listTaskTemplateVersions']['parameters']['query']>;

/** The spec's `TaskTemplateRef`: which template (and version) to run, with the parameters of this run. */
export interface TaskTemplateRef {
  id: string;
  version?: number;
  parameters?: Record<string, unknown>;
}

export interface ResolvedAction {
  team_id: string;
  type: TaskType;
  parameters: Record<string, unknown>;
  template_id: string | null;
  template_version: number | null;
}

/** Where a run's parameters stand in the requests that run a template, for the fields of their problems. */
const PARAMETERS_FIELD = 'template.parameters';

/** How many compiled parameters schemas a process keeps; a version never changes, so an entry is never stale. */
const MAX_COMPILED = 1_000;
const compiled = new Map<string, (value: unknown) => SchemaProblem | null>();

const checkTaskParameters = schemaChecker('TaskParameters', PARAMETERS_FIELD);
/**
 * Each action's own request schema (of `rebootAgent`, `runAgentCommand`…): what a run of it must carry (a command, a
 * version), with its problems named under `field` (where the parameters stand in the request that runs it).
 */
export const actionCheckers = (field: string): Record<TaskType, (value: unknown) => SchemaProblem | null> => ({
  reboot: schemaChecker('ActionRequest', field),
  shutdown: schemaChecker('ActionRequest', field),
  update_agent: schemaChecker('UpdateAgentRequest', field),
  command: schemaChecker('CommandRequest', field),
});
const checkAction = actionCheckers(PARAMETERS_FIELD);

/** Parameters a schema refused, as the 422 the caller gets: one detail per failing field. */
export function parametersRefused(problem: SchemaProblem, whose: string): ApiError {
  const message = problem.details.length > 1 ? `${whose} parameters are invalid` : `Invalid field ${problem.details[0]?.field}: ${problem.details[0]?.message}`;
  return new ApiError(problem.code, message, { details: problem.details });
}

/** The checker of one version's parameters schema, compiled once per process. */
function checkerOf(templateId: string, version: number, schema: Record<string, unknown>): (value: unknown) => SchemaProblem | null {
  const key = `${templateId}:${version}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  const checker = dataSchemaChecker(schema, PARAMETERS_FIELD);
  // The schema compiled when it was stored; one that no longer does is a fault of the server, not of the caller.
  if ('invalid' in checker) throw new Error(`task template ${key}: its parameters schema no longer compiles: ${checker.invalid}`);
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, checker.check);
  return checker.check;
}

/**
 * The template's action with its defaults merged under the given parameters, checked against its JSON Schema (Ajv),
 * as task parameters and as that action's parameters: 404 RES_NOT_FOUND outside `teamIds` (or for a deleted template, or a version it does not
 * have); 422 with one detail per failing field (field = `template.parameters.<path>`).
 */
export async function resolveTemplateAction(db: Executor, teamIds: readonly string[], ref: TaskTemplateRef): Promise<ResolvedAction> {
  const row = await repo.findTemplateVersion(db, ref.id, ref.version, teamIds);
  if (!row) throw notFound('Task template', ref.version === undefined ? ref.id : `${ref.id} version ${ref.version}`);
  const parameters: Record<string, unknown> = { ...row.defaults, ...ref.parameters };
  const problem = checkerOf(row.id, row.version, row.parameters_schema)(parameters) ?? checkTaskParameters(parameters) ?? checkAction[row.action](parameters);
  if (problem) throw parametersRefused(problem, "The template's");
  return { team_id: row.team_id, type: row.action, parameters, template_id: row.id, template_version: row.version };
}

/** 422 VAL_INVALID_SCHEMA unless Ajv compiles the schema. */
function assertCompiles(schema: Record<string, unknown>): void {
  const checker = dataSchemaChecker(schema, PARAMETERS_FIELD);
  if ('invalid' in checker) {
    // Ajv's account goes in the detail, cut to the detail's bound; the message stays one short sentence.
    throw new ApiError('VAL_INVALID_SCHEMA', 'parameters_schema is not a JSON Schema (draft 2020-12) the server can compile', {
      details: [{ field: 'parameters_schema', message: checker.invalid.slice(0, 1024) }],
    });
  }
}

function conflictOnName(err: unknown, name: string): never {
  if (isUniqueViolation(err, 'task_templates_team_name_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `A task template named ${name} already exists in this team`, {
      details: [{ field: 'name', message: 'already taken in this team', value: name }],
    });
  }
  throw err;
}

export class TaskTemplateService {
  readonly #db: Executor;

  constructor(db: Executor) {
    this.#db = db;
  }

  async list(caller: Caller, query: TaskTemplateListQuery, ctx: RequestContext): Promise<{ items: TaskTemplate[]; pagination: Pagination }> {
    const filter: repo.TaskTemplateFilter = { teamIds: caller.teamIds, teamId: query.team_id, search: query.search, action: query.action };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'name:asc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listTemplates(this.#db, filter, keys, window),
      count: () => repo.countTemplates(this.#db, filter),
      cursorValue: (row, field) => cursorValue(field === 'name' ? row.name.toLowerCase() : row[field]),
    });
    return { items: rows.map(toTaskTemplate), pagination };
  }

  async get(caller: Caller, id: string): Promise<TaskTemplate> {
    const row = await repo.findTemplate(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Task template', id);
    return toTaskTemplate(row);
  }

  async create(caller: Caller, input: Schemas['TaskTemplateCreate']): Promise<TaskTemplate> {
    const teamId = owningTeam(caller, input.team_id);
    const content: repo.TemplateContent = {
      name: input.name,
      description: input.description ?? null,
      action: input.action,
      defaults: input.defaults ?? {},
      parameters_schema: input.parameters_schema ?? {},
    };
    assertCompiles(content.parameters_schema);
    const id = uuidv7();
    await this.#transaction(async (trx) => {
      await repo.insertTemplate(trx, { id, team_id: teamId, version: 1, ...content }).catch((err: unknown) => conflictOnName(err, content.name));
      await repo.insertVersion(trx, { id: uuidv7(), template_id: id, version: 1, ...content });
    });
    return this.get(caller, id);
  }

  /**
   * JSON merge patch (RFC 7396) of the top-level fields: a present key sets (`defaults` and `parameters_schema`
   * as a whole), `null` clears the description. A patch that changes something makes the next version.
   */
  async patch(caller: Caller, id: string, input: Schemas['TaskTemplatePatch'], ctx: RequestContext): Promise<TaskTemplate> {
    if (input.parameters_schema !== undefined) assertCompiles(input.parameters_schema);
    await this.#transaction(async (trx) => {
      const current = await repo.lockTemplate(trx, id, caller.teamIds);
      if (!current) throw notFound('Task template', id);
      if (ctx.expectedUpdatedAt && current.updated_at.getTime() !== new Date(ctx.expectedUpdatedAt).getTime()) throw movedOn('task template');
      const before: repo.TemplateContent = {
        name: current.name,
        description: current.description,
        action: current.action,
        defaults: current.defaults,
        parameters_schema: current.parameters_schema,
      };
      const after: repo.TemplateContent = { ...before, ...definedOnly(input) };
      if (JSON.stringify(after) === JSON.stringify(before)) return;
      const version = current.version + 1;
      await repo.updateTemplate(trx, id, version, after).catch((err: unknown) => conflictOnName(err, after.name));
      await repo.insertVersion(trx, { id: uuidv7(), template_id: id, version, ...after });
    });
    return this.get(caller, id);
  }

  async delete(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    const deleted = await repo.deleteTemplate(this.#db, id, caller.teamIds, ctx.expectedUpdatedAt);
    if (deleted) return;
    if (ctx.expectedUpdatedAt && (await repo.findTemplate(this.#db, id, caller.teamIds))) throw movedOn('task template');
    throw notFound('Task template', id);
  }

  async versions(caller: Caller, id: string, query: TaskTemplateVersionListQuery, ctx: RequestContext): Promise<{ items: TaskTemplateVersion[]; pagination: Pagination }> {
    await this.get(caller, id);
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.VERSION_SORTABLE_FIELDS,
      defaultSort: 'version:desc',
      filter: { template_id: id },
      rows: (keys, window) => repo.listVersions(this.#db, id, keys, window),
      count: () => repo.countVersions(this.#db, id),
    });
    return { items: rows.map(toTaskTemplateVersion), pagination };
  }

  #transaction<T>(work: (trx: Executor) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute(work);
  }
}

/** The keys a merge patch sets (JSON has no `undefined`, but a typed object may carry one). */
function definedOnly(patch: Schemas['TaskTemplatePatch']): Partial<repo.TemplateContent> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<repo.TemplateContent>;
}
