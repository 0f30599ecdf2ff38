import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { ApiKeyService } from './api-keys.service.ts';

export function apiKeyHandlers(keys: ApiKeyService): Pick<HandlerMap, 'listApiKeys' | 'createApiKey' | 'deleteApiKey'> {
  return {
    async listApiKeys({ query, ctx }) {
      const { items, pagination } = await keys.list(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async createApiKey({ body, ctx }) {
      const created = await keys.create(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/api-keys/${created.id}` }, body: { data: created } };
    },
    async deleteApiKey({ params, ctx }) {
      await keys.revoke(requireCaller(ctx), params.api_key_id);
      return { status: 204 };
    },
  };
}
