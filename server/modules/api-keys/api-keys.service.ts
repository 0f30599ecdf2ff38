import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { permissionsOf } from '../../auth/permissions.ts';
import { randomToken, sha256 } from '../../auth/secrets.ts';
import type { Database } from '../../db/schema.ts';
import { ApiError, notFound } from '../../http/errors.ts';
import { listPage, type ListQuery } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import * as repo from './api-keys.repository.ts';

type ApiKey = components['schemas']['ApiKey'];
type ApiKeyCreated = components['schemas']['ApiKeyCreated'];

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

function toApiKey(row: repo.PublicApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    created_at: row.created_at.toISOString(),
    last_used_at: iso(row.last_used_at),
    expires_at: iso(row.expires_at),
  };
}

/** 8 letters and digits: the visible, indexed part of a key. */
function keyPrefix(): string {
  return `opk_${randomToken(12).replace(/[-_]/g, '').slice(0, 8).padEnd(8, '0')}`;
}

export class ApiKeyService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(caller: Caller, query: ListQuery, ctx: RequestContext): Promise<{ items: ApiKey[]; pagination: Pagination }> {
    const { rows, pagination } = await listPage({ ...query, sort: 'created_at:desc' }, ctx, {
      sortable: ['created_at'] as const,
      defaultSort: 'created_at:desc',
      filter: null,
      rows: (keys, window) => repo.listApiKeys(this.#db, caller.userId, keys, window),
      count: () => repo.countApiKeys(this.#db, caller.userId),
    });
    return { items: rows.map(toApiKey), pagination };
  }

  /** Scopes may only narrow: each must be granted by the owner's role (not merely by the key in use). */
  async create(caller: Caller, input: components['schemas']['ApiKeyCreate']): Promise<ApiKeyCreated> {
    const granted = permissionsOf(caller.role);
    const beyond = input.scopes.filter((scope) => !granted.has(scope) || (caller.apiKeyId !== null && !caller.permissions.has(scope)));
    if (beyond.length > 0) {
      throw new ApiError('VAL_ERROR', `Scopes beyond the caller's permissions: ${beyond.join(', ')}`, {
        details: beyond.map((scope) => ({ field: 'scopes', message: 'not a permission of the caller', value: scope })),
      });
    }
    if (input.expires_at !== undefined && Date.parse(input.expires_at) <= Date.now()) {
      throw new ApiError('VAL_ERROR', 'expires_at must be in the future', { details: [{ field: 'expires_at', message: 'must be in the future', value: input.expires_at }] });
    }
    const prefix = keyPrefix();
    const secret = `${prefix}_${randomToken(32)}`;
    const row = await repo.insertApiKey(this.#db, {
      id: uuidv7(),
      userId: caller.userId,
      name: input.name,
      prefix,
      secretHash: sha256(secret),
      scopes: input.scopes,
      expiresAt: input.expires_at === undefined ? null : new Date(input.expires_at),
    });
    return { ...toApiKey(row), secret };
  }

  async revoke(caller: Caller, id: string): Promise<void> {
    if (!(await repo.revokeApiKey(this.#db, caller.userId, id))) throw notFound('API key', id);
  }
}
