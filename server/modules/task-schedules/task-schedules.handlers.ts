import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader, pickFields } from '../../http/pagination.ts';
import type { TaskScheduleService } from './task-schedules.service.ts';

type TaskScheduleHandlers = Pick<
  HandlerMap,
  'listTaskSchedules' | 'createTaskSchedule' | 'getTaskSchedule' | 'updateTaskSchedule' | 'deleteTaskSchedule' | 'listTaskScheduleExecutions'
>;

export function taskScheduleHandlers(schedules: TaskScheduleService): TaskScheduleHandlers {
  return {
    async listTaskSchedules({ query, ctx }) {
      const { items, pagination } = await schedules.list(requireCaller(ctx), query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((schedule) => pickFields(schedule, query.fields)), pagination },
      };
    },
    async createTaskSchedule({ body, ctx }) {
      const schedule = await schedules.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/tasks/schedules/${schedule.id}` }, body: { data: schedule } };
    },
    async getTaskSchedule({ params, ctx }) {
      return { status: 200, body: { data: await schedules.get(requireCaller(ctx), params.schedule_id) } };
    },
    async updateTaskSchedule({ params, body, ctx }) {
      return { status: 200, body: { data: await schedules.patch(requireCaller(ctx), params.schedule_id, body, ctx) } };
    },
    async deleteTaskSchedule({ params, ctx }) {
      await schedules.delete(requireCaller(ctx), params.schedule_id, ctx);
      return { status: 204 };
    },
    async listTaskScheduleExecutions({ params, query, ctx }) {
      const { items, pagination } = await schedules.executions(requireCaller(ctx), params.schedule_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
  };
}
