import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader, pickFields } from '../../http/pagination.ts';
import type { TaskAccepted, TaskService } from './tasks.service.ts';

type TaskHandlers = Pick<
  HandlerMap,
  | 'rebootAgent'
  | 'shutdownAgent'
  | 'updateAgentSoftware'
  | 'runAgentCommand'
  | 'createAgentTask'
  | 'listAgentTasks'
  | 'createTask'
  | 'listTasks'
  | 'getTask'
  | 'listTaskLogs'
  | 'cancelTask'
  | 'retryTask'
>;

const acceptedAnswer = (task: TaskAccepted) => ({
  status: 202 as const,
  headers: { Location: `/api/v1/tasks/${task.task_id}` },
  body: { data: task },
});

export function taskHandlers(tasks: TaskService): TaskHandlers {
  return {
    async rebootAgent({ params, body, ctx }) {
      const action = { type: 'reboot' as const, parameters: body?.reason ? { reason: body.reason } : {} };
      return acceptedAnswer(await tasks.act(requireCaller(ctx), params.agent_id, { action }, body?.queue_if_offline ?? false));
    },
    async shutdownAgent({ params, body, ctx }) {
      const action = { type: 'shutdown' as const, parameters: body?.reason ? { reason: body.reason } : {} };
      return acceptedAnswer(await tasks.act(requireCaller(ctx), params.agent_id, { action }, body?.queue_if_offline ?? false));
    },
    async updateAgentSoftware({ params, body, ctx }) {
      const action = { type: 'update_agent' as const, parameters: { version: body.version, ...(body.reason ? { reason: body.reason } : {}) } };
      return acceptedAnswer(await tasks.act(requireCaller(ctx), params.agent_id, { action }, body.queue_if_offline ?? false));
    },
    async runAgentCommand({ params, body, ctx }) {
      const { queue_if_offline: queueIfOffline, ...parameters } = body;
      return acceptedAnswer(await tasks.act(requireCaller(ctx), params.agent_id, { action: { type: 'command', parameters } }, queueIfOffline ?? false, 'command'));
    },
    async createAgentTask({ params, body, ctx }) {
      const { queue_if_offline: queueIfOffline, ...choice } = body;
      return acceptedAnswer(await tasks.act(requireCaller(ctx), params.agent_id, choice, queueIfOffline ?? false));
    },
    async createTask({ body, ctx }) {
      return acceptedAnswer(await tasks.createFleet(requireCaller(ctx), body));
    },
    async listAgentTasks({ params, query, ctx }) {
      const { items, pagination } = await tasks.listOfAgent(requireCaller(ctx), params.agent_id, query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((task) => pickFields(task, query.fields)), pagination },
      };
    },
    async listTasks({ query, ctx }) {
      const { items, pagination } = await tasks.list(requireCaller(ctx), query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((task) => pickFields(task, query.fields)), pagination },
      };
    },
    async getTask({ params, ctx }) {
      return { status: 200, body: { data: await tasks.get(requireCaller(ctx), params.task_id) } };
    },
    async listTaskLogs({ params, query, ctx }) {
      const { items, pagination } = await tasks.logs(requireCaller(ctx), params.task_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async cancelTask({ params, ctx }) {
      return { status: 200, body: { data: await tasks.cancel(requireCaller(ctx), params.task_id) } };
    },
    async retryTask({ params, ctx }) {
      return acceptedAnswer(await tasks.retry(requireCaller(ctx), params.task_id));
    },
  };
}
