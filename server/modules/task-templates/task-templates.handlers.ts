import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader, pickFields } from '../../http/pagination.ts';
import type { TaskTemplateService } from './task-templates.service.ts';

type TaskTemplateHandlers = Pick<
  HandlerMap,
  'listTaskTemplates' | 'createTaskTemplate' | 'getTaskTemplate' | 'updateTaskTemplate' | 'deleteTaskTemplate' | 'listTaskTemplateVersions'
>;

export function taskTemplateHandlers(templates: TaskTemplateService): TaskTemplateHandlers {
  return {
    async listTaskTemplates({ query, ctx }) {
      const { items, pagination } = await templates.list(requireCaller(ctx), query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((template) => pickFields(template, query.fields)), pagination },
      };
    },
    async createTaskTemplate({ body, ctx }) {
      const template = await templates.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/tasks/templates/${template.id}` }, body: { data: template } };
    },
    async getTaskTemplate({ params, ctx }) {
      return { status: 200, body: { data: await templates.get(requireCaller(ctx), params.template_id) } };
    },
    async updateTaskTemplate({ params, body, ctx }) {
      return { status: 200, body: { data: await templates.patch(requireCaller(ctx), params.template_id, body, ctx) } };
    },
    async deleteTaskTemplate({ params, ctx }) {
      await templates.delete(requireCaller(ctx), params.template_id, ctx);
      return { status: 204 };
    },
    async listTaskTemplateVersions({ params, query, ctx }) {
      const { items, pagination } = await templates.versions(requireCaller(ctx), params.template_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
  };
}
