// Security policies: named, team-scoped (another team's is 404), attached to the whole team or one of its agent
// groups, names unique per team regardless of case, merge-patch semantics (`rules` replaces them), a version that
// counts changes, If-Match preconditions. Enforcement is policies.enforce.ts's and the claim's.
import type { Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import { cursorValue } from '../../db/keyset.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import type { Database } from '../../db/schema.ts';
import { owningTeam } from '../../db/owning-team.ts';
import { ApiError, movedOn, notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import { findGroup } from '../agent-groups/agent-groups.repository.ts';
import { toPolicy, type Policy } from './policies.mapper.ts';
import * as repo from './policies.repository.ts';

type Schemas = components['schemas'];
export type PolicyListQuery = NonNullable<operations['listPolicies']['parameters']['query']>;

function conflictOnName(err: unknown, name: string | undefined): never {
  if (isUniqueViolation(err, 'config_policies_team_name_key')) {
    throw new ApiError('RES_ALREADY_EXISTS', `A policy named ${name} already exists in this team`, {
      details: [{ field: 'name', message: 'already taken in this team', value: name ?? null }],
    });
  }
  throw err;
}

/** `required_packages` names each package once (422 naming the repeated one). */
function checkRules(rules: Schemas['PolicyRules']): void {
  if (rules.kind !== 'required_packages') return;
  const seen = new Set<string>();
  rules.packages.forEach((pkg, i) => {
    if (seen.has(pkg.name)) throw new ApiError('VAL_ERROR', `The package ${pkg.name} is named twice`, { details: [{ field: `rules.packages.${i}.name`, message: 'named twice', value: pkg.name }] });
    seen.add(pkg.name);
  });
}

export class PolicyService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** A group of the policy's team, else 404 (another team's group, or none). */
  async #group(teamId: string, groupId: string): Promise<void> {
    if (!(await findGroup(this.#db, groupId, [teamId]))) throw notFound('Agent group', groupId);
  }

  async list(caller: Caller, query: PolicyListQuery, ctx: RequestContext): Promise<{ items: Policy[]; pagination: Pagination }> {
    const filter: repo.PolicyFilter = { teamIds: caller.teamIds, teamId: query.team_id, groupId: query.group_id, kind: query.kind };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'name:asc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listPolicies(this.#db, filter, keys, window),
      count: () => repo.countPolicies(this.#db, filter),
      cursorValue: (row, field) => cursorValue(field === 'name' ? row.name.toLowerCase() : row[field]),
    });
    return { items: rows.map(toPolicy), pagination };
  }

  async get(caller: Caller, id: string): Promise<Policy> {
    const row = await repo.findPolicy(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Policy', id);
    return toPolicy(row);
  }

  async create(caller: Caller, input: Schemas['PolicyCreate']): Promise<Policy> {
    const teamId = owningTeam(caller, input.team_id);
    if (input.group_id) await this.#group(teamId, input.group_id);
    checkRules(input.rules);
    const id = uuidv7();
    await repo
      .insertPolicy(this.#db, { id, team_id: teamId, group_id: input.group_id ?? null, name: input.name, description: input.description ?? null, rules: input.rules })
      .catch((err: unknown) => conflictOnName(err, input.name));
    return this.get(caller, id);
  }

  /** JSON merge patch (RFC 7396): a present key sets, `null` clears the description or the group, `rules` replaces them. */
  async patch(caller: Caller, id: string, input: Schemas['PolicyPatch'], ctx: RequestContext): Promise<Policy> {
    const changes: repo.PolicyChanges = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.description !== undefined) changes.description = input.description;
    if (input.rules !== undefined) {
      checkRules(input.rules);
      changes.rules = input.rules;
    }
    if (input.group_id !== undefined) {
      if (input.group_id !== null) {
        const current = await repo.findPolicy(this.#db, id, caller.teamIds);
        if (!current) throw notFound('Policy', id);
        await this.#group(current.team_id, input.group_id);
      }
      changes.group_id = input.group_id;
    }
    if (Object.keys(changes).length === 0) return this.get(caller, id);
    const updated = await repo
      .updatePolicy(this.#db, id, caller.teamIds, changes, ctx.expectedUpdatedAt)
      .catch((err: unknown) => conflictOnName(err, input.name));
    if (!updated) throw await this.#missingOrMoved(caller, id, ctx);
    return this.get(caller, id);
  }

  async delete(caller: Caller, id: string, ctx: RequestContext): Promise<void> {
    if (!(await repo.deletePolicy(this.#db, id, caller.teamIds, ctx.expectedUpdatedAt))) throw await this.#missingOrMoved(caller, id, ctx);
  }

  /** After a write found no row: 412 when an If-Match version moved on, else 404. */
  async #missingOrMoved(caller: Caller, id: string, ctx: RequestContext): Promise<ApiError> {
    if (ctx.expectedUpdatedAt && (await repo.findPolicy(this.#db, id, caller.teamIds))) return movedOn('policy');
    return notFound('Policy', id);
  }
}
