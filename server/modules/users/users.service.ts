// Users and roles for administrators. One administrator always remains: an admin cannot demote,
// deactivate or delete itself.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { hashPassword, oneTimePassword } from '../../auth/passwords.ts';
import { cursorValue } from '../../db/keyset.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import type { Database } from '../../db/schema.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { revokeAllOfUser } from '../auth/sessions.repository.ts';
import { toUser, type User } from './users.mapper.ts';
import * as repo from './users.repository.ts';

type Schemas = components['schemas'];

function conflictOnEmail(err: unknown, email: string): never {
  if (isUniqueViolation(err, 'users_email_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `A user with email ${email} already exists`, { details: [{ field: 'email', message: 'already taken', value: email }] });
  }
  throw err;
}

export class UserService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(query: NonNullable<operations['listUsers']['parameters']['query']>, ctx: RequestContext): Promise<{ items: User[]; pagination: Pagination }> {
    const filter: repo.UserFilter = { role: query.role, active: query.active, search: query.search };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter,
      rows: (keys, window) => repo.listUsers(this.#db, filter, keys, window),
      count: () => repo.countUsers(this.#db, filter),
      cursorValue: (row, field) => cursorValue(field === 'email' ? row.email.toLowerCase() : row[field]),
    });
    return { items: rows.map(toUser), pagination };
  }

  async get(id: string): Promise<User> {
    const row = await repo.findUser(this.#db, id);
    if (!row) throw notFound('User', id);
    return toUser(row);
  }

  async create(input: Schemas['UserCreate']): Promise<Schemas['UserCreated']> {
    const generated = input.password === undefined ? oneTimePassword() : undefined;
    const row = await repo
      .insertUser(this.#db, {
        id: uuidv7(),
        email: input.email,
        name: input.name,
        role: input.role,
        rate_tier: input.rate_tier ?? 'standard',
        password_hash: await hashPassword(input.password ?? generated!),
      })
      .catch((err: unknown) => conflictOnEmail(err, input.email));
    return { ...toUser(row), ...(generated ? { one_time_password: generated } : {}) };
  }

  async update(caller: Caller, id: string, patch: Schemas['UserPatch'], expectedUpdatedAt: string | null): Promise<User> {
    const self = caller.userId === id;
    if (self && ((patch.role !== undefined && patch.role !== caller.role) || patch.active === false)) {
      throw new ApiError('RES_CONFLICT', 'Administrators cannot demote or deactivate themselves; ask another administrator');
    }
    const changes: { name?: string; role?: Schemas['RoleName']; active?: boolean; rate_tier?: Schemas['User']['rate_tier'] } = {};
    if (patch.rate_tier !== undefined) changes.rate_tier = patch.rate_tier;
    if (patch.name !== undefined) changes.name = patch.name;
    if (patch.role !== undefined) changes.role = patch.role;
    if (patch.active !== undefined) changes.active = patch.active;
    if (Object.keys(changes).length === 0) return this.get(id);
    const row = await this.#db.transaction().execute(async (trx) => {
      const updated = await repo.updateUser(trx, id, changes, expectedUpdatedAt);
      if (updated && patch.active === false) await revokeAllOfUser(trx, id);
      return updated;
    });
    if (!row) throw expectedUpdatedAt ? movedOn('user') : notFound('User', id);
    return toUser(row);
  }

  async delete(caller: Caller, id: string, expectedUpdatedAt: string | null): Promise<void> {
    if (caller.userId === id) throw new ApiError('RES_CONFLICT', 'Administrators cannot delete themselves; ask another administrator');
    if (!(await repo.deleteUser(this.#db, id, expectedUpdatedAt))) throw expectedUpdatedAt ? movedOn('user') : notFound('User', id);
  }
}
