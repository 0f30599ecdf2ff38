import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader, pickFields } from '../../http/pagination.ts';
import type { PipelineService } from './pipelines.service.ts';

type PipelineHandlers = Pick<
  HandlerMap,
  | 'listPipelines'
  | 'createPipeline'
  | 'updatePipelines'
  | 'getPipeline'
  | 'updatePipeline'
  | 'deletePipeline'
  | 'listPipelineRuns'
  | 'createPipelineRun'
  | 'getPipelineRun'
  | 'updatePipelineRun'
>;

const pipelineUrl = (id: string) => `/api/v1/pipelines/${id}`;
const runUrl = (pipelineId: string, runId: string) => `/api/v1/pipelines/${pipelineId}/runs/${runId}`;

export function pipelineHandlers(pipelines: PipelineService): PipelineHandlers {
  return {
    async listPipelines({ query, ctx }) {
      const { items, pagination } = await pipelines.list(requireCaller(ctx), query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((pipeline) => pickFields(pipeline, query.fields)), pagination },
      };
    },
    async createPipeline({ body, ctx }) {
      const pipeline = await pipelines.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: pipelineUrl(pipeline.id) }, body: { data: pipeline } };
    },
    async updatePipelines({ body, ctx }) {
      return { status: 200, body: { data: await pipelines.bulkUpdate(requireCaller(ctx), body) } };
    },
    async getPipeline({ params, ctx }) {
      return { status: 200, body: { data: await pipelines.get(requireCaller(ctx), params.pipeline_id) } };
    },
    async updatePipeline({ params, body, ctx }) {
      return { status: 200, body: { data: await pipelines.patch(requireCaller(ctx), params.pipeline_id, body, ctx) } };
    },
    async deletePipeline({ params, ctx }) {
      await pipelines.delete(requireCaller(ctx), params.pipeline_id, ctx);
      return { status: 204 };
    },
    async listPipelineRuns({ params, query, ctx }) {
      const { items, pagination } = await pipelines.runs(requireCaller(ctx), params.pipeline_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items.map((run) => pickFields(run, query.fields)), pagination } };
    },
    async createPipelineRun({ params, body, ctx }) {
      const run = await pipelines.run(requireCaller(ctx), params.pipeline_id, body);
      return { status: 201, headers: { Location: runUrl(run.pipeline_id, run.id) }, body: { data: run } };
    },
    async getPipelineRun({ params, ctx }) {
      return { status: 200, body: { data: await pipelines.getRun(requireCaller(ctx), params.pipeline_id, params.run_id) } };
    },
    async updatePipelineRun({ params, body, ctx }) {
      return { status: 200, body: { data: await pipelines.patchRun(requireCaller(ctx), params.pipeline_id, params.run_id, body) } };
    },
  };
}
