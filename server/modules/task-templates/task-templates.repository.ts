// Thin Kysely queries for task templates and their versions, with explicit columns. Every query of a template is
// scoped to the caller's teams and sees live templates only (a deleted one keeps its rows, see the migration).
import { sql, type RawBuilder } from 'kysely';
import type { components } from '../../../generated/openapi.d.ts';
import type { Executor } from '../../db/executor.ts';
import { pageOf, type SortKey, type Window } from '../../db/keyset.ts';
import { onlyTeams } from '../../db/team-scope.ts';

type Schemas = components['schemas'];

export const SORTABLE_FIELDS = ['name', 'created_at', 'updated_at'] as const;
export type TaskTemplateSortField = (typeof SORTABLE_FIELDS)[number];
export const VERSION_SORTABLE_FIELDS = ['version'] as const;

export interface TaskTemplateFilter {
  /** The teams the caller may see; always applied. */
  teamIds: readonly string[];
  teamId?: string | undefined;
  search?: string | undefined;
  action?: Schemas['TaskType'] | undefined;
}

/** What each version holds; the template row holds its current version's. */
export interface TemplateContent {
  name: string;
  description: string | null;
  action: Schemas['TaskType'];
  defaults: Schemas['TaskParameters'];
  parameters_schema: Record<string, unknown>;
}

const templateColumns = ['id', 'team_id', 'name', 'description', 'action', 'defaults', 'parameters_schema', 'version', 'created_at', 'updated_at'] as const;
const versionColumns = ['id', 'template_id', 'version', 'name', 'description', 'action', 'defaults', 'parameters_schema', 'created_at'] as const;

/** Names sort regardless of case, as they are unique regardless of case. */
const sortExpression = (field: TaskTemplateSortField | 'id'): RawBuilder<unknown> => (field === 'name' ? sql`lower(name)` : sql.ref(field));

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

const live = (db: Executor, teamIds: readonly string[]) => db.selectFrom('task_templates').$call(onlyTeams(teamIds)).where('deleted_at', 'is', null);

function filtered(db: Executor, filter: TaskTemplateFilter) {
  let query = live(db, filter.teamIds);
  if (filter.teamId) query = query.where('team_id', '=', filter.teamId);
  if (filter.search) query = query.where('name', 'ilike', `%${escapeLike(filter.search)}%`);
  if (filter.action) query = query.where('action', '=', filter.action);
  return query;
}

export const listTemplates = (db: Executor, filter: TaskTemplateFilter, keys: SortKey<TaskTemplateSortField>[], window: Window) =>
  pageOf(filtered(db, filter).select(templateColumns), keys, window, sortExpression).execute();

export type TaskTemplateRow = Awaited<ReturnType<typeof listTemplates>>[number];

export async function countTemplates(db: Executor, filter: TaskTemplateFilter): Promise<number> {
  return (await filtered(db, filter).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n;
}

export const findTemplate = (db: Executor, id: string, teamIds: readonly string[]): Promise<TaskTemplateRow | undefined> =>
  live(db, teamIds).select(templateColumns).where('id', '=', id).executeTakeFirst();

/** The template row locked for the rest of the transaction, when it is live and in these teams. */
export const lockTemplate = (db: Executor, id: string, teamIds: readonly string[]): Promise<TaskTemplateRow | undefined> =>
  live(db, teamIds).select(templateColumns).where('id', '=', id).forUpdate().executeTakeFirst();

/** One version of a live template of these teams; its current one when `version` is left out. */
export const findTemplateVersion = (db: Executor, id: string, version: number | undefined, teamIds: readonly string[]) =>
  db
    .selectFrom('task_template_versions as v')
    .innerJoin('task_templates as t', 't.id', 'v.template_id')
    .select(['t.id', 't.team_id', 'v.version', 'v.action', 'v.defaults', 'v.parameters_schema'])
    .where('t.id', '=', id)
    .$call(onlyTeams(teamIds))
    .where('t.deleted_at', 'is', null)
    .where('v.version', '=', version ?? sql<number>`t.version`)
    .executeTakeFirst();

const json = (content: TemplateContent) => ({ ...content, defaults: JSON.stringify(content.defaults), parameters_schema: JSON.stringify(content.parameters_schema) });

export async function insertTemplate(db: Executor, row: { id: string; team_id: string; version: number } & TemplateContent): Promise<void> {
  await db.insertInto('task_templates').values({ ...row, ...json(row) }).execute();
}

/** Makes `content` the template's current version `version`. */
export async function updateTemplate(db: Executor, id: string, version: number, content: TemplateContent): Promise<void> {
  await db.updateTable('task_templates').set({ ...json(content), version, updated_at: sql`now()` }).where('id', '=', id).execute();
}

export async function insertVersion(db: Executor, row: { id: string; template_id: string; version: number } & TemplateContent): Promise<void> {
  await db.insertInto('task_template_versions').values({ ...row, ...json(row) }).execute();
}

/** Marks the template deleted (its versions stay); answers its team, or nothing when no live row matched. */
export async function deleteTemplate(db: Executor, id: string, teamIds: readonly string[], expectedUpdatedAt: string | null): Promise<{ team_id: string } | undefined> {
  if (teamIds.length === 0) return undefined;
  let query = db.updateTable('task_templates').set({ deleted_at: sql`now()` }).where('id', '=', id).where('team_id', 'in', teamIds).where('deleted_at', 'is', null);
  if (expectedUpdatedAt) query = query.where('updated_at', '=', new Date(expectedUpdatedAt));
  return query.returning('team_id').executeTakeFirst();
}

const versionSort = (field: 'version' | 'id'): RawBuilder<unknown> => sql.ref(field);

export const listVersions = (db: Executor, templateId: string, keys: SortKey<'version'>[], window: Window) =>
  pageOf(db.selectFrom('task_template_versions').select(versionColumns).where('template_id', '=', templateId), keys, window, versionSort).execute();

export type TaskTemplateVersionRow = Awaited<ReturnType<typeof listVersions>>[number];

export async function countVersions(db: Executor, templateId: string): Promise<number> {
  return (await db.selectFrom('task_template_versions').select(sql<number>`count(*)::int`.as('n')).where('template_id', '=', templateId).executeTakeFirstOrThrow()).n;
}
