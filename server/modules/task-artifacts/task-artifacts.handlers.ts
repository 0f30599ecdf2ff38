import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import { artifactPath } from './task-artifacts.mapper.ts';
import type { TaskArtifactService } from './task-artifacts.service.ts';

type ArtifactHandlers = Pick<HandlerMap, 'uploadTaskArtifact' | 'listTaskArtifacts' | 'downloadTaskArtifact'>;

export function taskArtifactHandlers(artifacts: TaskArtifactService): ArtifactHandlers {
  return {
    async uploadTaskArtifact({ params, query, body, ctx }) {
      const artifact = await artifacts.upload(requireCaller(ctx), params.task_id, query.name, body);
      return { status: 201, headers: { Location: artifactPath(artifact) }, body: { data: artifact } };
    },
    async listTaskArtifacts({ params, query, ctx }) {
      const { items, pagination } = await artifacts.list(requireCaller(ctx), params.task_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async downloadTaskArtifact({ params, ctx }) {
      return { status: 200, file: await artifacts.download(requireCaller(ctx), params.task_id, params.artifact_id) };
    },
  };
}
