import type { Client, MaybeOptionalInit } from 'openapi-fetch';
import { unwrapBody, type FetchResult } from './errors.ts';
import type { Pagination, paths } from './types.ts';

type GetBody<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { 'application/json': infer Body } } } };
}
  ? Body
  : unknown;

/** The paths whose GET answers one page of a list: `{ data: Item[], pagination, … }`. */
export type ListPath = {
  [P in keyof paths]: GetBody<P> extends { data: unknown[]; pagination: Pagination } ? P : never;
}[keyof paths];

/** One page of a list, its whole envelope. */
export type ListPage<P extends ListPath> = GetBody<P>;
/** An item of a list. */
export type ListItem<P extends ListPath> = GetBody<P> extends { data: Array<infer Item> } ? Item : never;
/** The options of a list's first call: its query (filters, `sort`, `limit`, `cursor: ''` for cursor mode), headers, … */
export type ListInit<P extends ListPath> = MaybeOptionalInit<paths[P], 'get'>;
type ListArgs<P extends ListPath> = undefined extends ListInit<P> ? [init?: ListInit<P>] : [init: ListInit<P>];

interface LooseInit {
  params?: { query?: Record<string, unknown> | undefined };
}

/**
 * Thrown by `pages` and `paginate` when the server answers a page the iteration was already given (the same
 * `pagination.links.self`), or its links lead back to a page already asked for: following them would go round
 * forever. A mock that answers every page with the same example page does this; a real server does not.
 */
export class PaginationLoopError extends Error {
  override readonly name = 'PaginationLoopError';
  /** The list's path, e.g. `/api/v2/agents`. */
  readonly path: string;
  /** The page met again: its `links.self`, or the query that would have asked for it again. */
  readonly page: string;
  /** How many pages were yielded before the loop was noticed (each of them once). */
  readonly pagesYielded: number;

  constructor(path: string, page: string, pagesYielded: number) {
    super(
      `Opsdeck pages(): GET ${path} led back to a page already seen (${page}) after ${pagesYielded} page(s); ` +
        'stopped, as following its links would never end. (A mock that answers every page with the same example does this.)',
    );
    this.path = path;
    this.page = page;
    this.pagesYielded = pagesYielded;
  }
}

/**
 * Every page of a list, first to last, as envelopes (`data`, `pagination`, `meta`). A cursor-mode page leads
 * to the next by `pagination.next_cursor`, an offset-mode page by `pagination.links.next`. A failed page
 * throws `OpsdeckError`; a page met a second time (see `PaginationLoopError`) throws that error instead of
 * being yielded again.
 */
export async function* pages<P extends ListPath>(
  client: Client<paths>,
  path: P,
  ...[init]: ListArgs<P>
): AsyncGenerator<ListPage<P>, void, undefined> {
  // The typed GET cannot be called with a generic path; every page is the same call with another query.
  const get = client.GET as unknown as (path: string, init: LooseInit) => Promise<FetchResult>;
  const first: LooseInit = init ?? {};
  let query = first.params?.query;
  // What identifies a page: the query that asked for it, and the `self` link its answer gives.
  const asked = new Set<string>([queryKey(query)]);
  const answered = new Set<string>();
  for (;;) {
    const page = (await unwrapBody(get(path, { ...first, params: { ...first.params, query } }))) as ListPage<P> | undefined;
    // Only an If-None-Match of the caller's can bring a 304; one ETag cannot stand for every page.
    if (page === undefined) throw new Error('Opsdeck pages(): a page came without a body (a 304? do not send If-None-Match to pages)');
    const pagination = (page as { pagination: Pagination }).pagination;
    const self = `${pagination.mode} ${pagination.links.self}`;
    if (answered.has(self)) throw new PaginationLoopError(path, pagination.links.self, answered.size);
    answered.add(self);
    yield page;
    const next = nextQuery(pagination, query ?? {});
    if (!next) return;
    const key = queryKey(next);
    if (asked.has(key)) throw new PaginationLoopError(path, `?${key}`, answered.size);
    asked.add(key);
    query = next;
  }
}

/** A query as a stable string: its entries sorted by name (arrays joined as the client sends them). */
function queryKey(query: Record<string, unknown> | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (value !== undefined) params.append(name, Array.isArray(value) ? value.join(',') : String(value));
  }
  return params.toString();
}

/** Every item of a list, across all its pages (see `pages`). */
export async function* paginate<P extends ListPath>(
  client: Client<paths>,
  path: P,
  ...init: ListArgs<P>
): AsyncGenerator<ListItem<P>, void, undefined> {
  for await (const page of pages(client, path, ...init)) yield* (page as { data: ListItem<P>[] }).data;
}

function nextQuery(pagination: Pagination, query: Record<string, unknown>): Record<string, unknown> | undefined {
  if (pagination.mode === 'cursor') {
    return pagination.has_next && pagination.next_cursor ? { ...query, cursor: pagination.next_cursor } : undefined;
  }
  if (!pagination.has_next || !pagination.links.next) return undefined;
  // The link holds the next page's offset and limit; filters and sort stay as the caller gave them.
  const link = new URL(pagination.links.next, 'http://link.invalid').searchParams;
  const offset = Number(link.get('offset') ?? pagination.page * pagination.per_page);
  const limit = Number(link.get('limit') ?? pagination.per_page);
  return { ...query, offset, limit };
}
