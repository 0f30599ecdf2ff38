import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader, pickFields } from '../../http/pagination.ts';
import type { DeploymentService } from './deployments.service.ts';

type DeploymentHandlers = Pick<HandlerMap, 'listDeployments' | 'createDeployment' | 'getDeployment' | 'updateDeployment' | 'rollbackDeployment'>;

export function deploymentHandlers(deployments: DeploymentService): DeploymentHandlers {
  return {
    async listDeployments({ query, ctx }) {
      const { items, pagination } = await deployments.list(requireCaller(ctx), query, ctx);
      return {
        status: 200,
        headers: { Link: linkHeader(pagination) },
        body: { data: items.map((deployment) => pickFields(deployment, query.fields)), pagination },
      };
    },
    async createDeployment({ body, ctx }) {
      const deployment = await deployments.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/deployments/${deployment.id}` }, body: { data: deployment } };
    },
    async getDeployment({ params, ctx }) {
      return { status: 200, body: { data: await deployments.get(requireCaller(ctx), params.deployment_id) } };
    },
    async updateDeployment({ params, body, ctx }) {
      return { status: 200, body: { data: await deployments.patch(requireCaller(ctx), params.deployment_id, body, ctx) } };
    },
    async rollbackDeployment({ params, body, ctx }) {
      const accepted = await deployments.rollback(requireCaller(ctx), params.deployment_id, body);
      return { status: 202, headers: { Location: accepted.status_url }, body: { data: accepted } };
    },
  };
}
