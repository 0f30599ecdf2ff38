import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { VulnerabilityService } from './vulnerabilities.service.ts';

type VulnerabilityHandlers = Pick<HandlerMap, 'importAdvisories' | 'listPackageVulnerabilities' | 'listAgentVulnerabilities'>;

export function vulnerabilityHandlers(vulnerabilities: VulnerabilityService): VulnerabilityHandlers {
  return {
    async importAdvisories({ body }) {
      return { status: 200, body: { data: await vulnerabilities.import(body.advisories) } };
    },
    async listPackageVulnerabilities({ query, ctx }) {
      const { items, pagination } = await vulnerabilities.list(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async listAgentVulnerabilities({ params, query, ctx }) {
      const { items, pagination } = await vulnerabilities.listOfAgent(requireCaller(ctx), params.agent_id, query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
  };
}
