import { expect, test } from 'vitest';
import { createOpsdeckClient, pages, paginate, PaginationLoopError, type AgentFields } from '@opsdeck/sdk';
import { agent, failure, fakeFetch, json, meta } from './fake-server.ts';

const baseUrl = 'https://opsdeck.test';
const fleet = [1, 2, 3, 4, 5].map(agent);

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** Offset mode as the server answers it: pages of `limit` with links to their neighbours. */
const offsetServer = () =>
  fakeFetch(({ url }) => {
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const link = (o: number) => `/api/v1/agents?status=online&limit=${limit}&offset=${o}`;
    const hasNext = offset + limit < fleet.length;
    return json(200, {
      success: true,
      data: fleet.slice(offset, offset + limit),
      meta: meta(),
      pagination: {
        mode: 'offset',
        page: offset / limit + 1,
        per_page: limit,
        total: fleet.length,
        total_pages: Math.ceil(fleet.length / limit),
        has_next: hasNext,
        has_prev: offset > 0,
        links: {
          self: link(offset),
          first: link(0),
          prev: offset > 0 ? link(Math.max(0, offset - limit)) : null,
          next: hasNext ? link(offset + limit) : null,
          last: link(Math.floor((fleet.length - 1) / limit) * limit),
        },
      },
    });
  });

test('paginate follows the offset links through every page', async () => {
  const { fetch, calls } = offsetServer();
  const client = createOpsdeckClient({ baseUrl, fetch });

  const items = await collect(paginate(client, '/api/v1/agents', { params: { query: { status: 'online', limit: 2 } } }));

  expect(items.map((a) => a.id)).toEqual(fleet.map((a) => a.id));
  expect(calls.map((c) => c.url.searchParams.get('offset'))).toEqual([null, '2', '4']);
  expect(calls.every((c) => c.url.searchParams.get('status') === 'online')).toBe(true);
});

test('pages yields whole envelopes, with their pagination', async () => {
  const { fetch } = offsetServer();
  const client = createOpsdeckClient({ baseUrl, fetch });

  const all = await collect(pages(client, '/api/v1/agents', { params: { query: { limit: 3 } } }));

  expect(all.map((p) => p.data.length)).toEqual([3, 2]);
  expect(all.map((p) => p.pagination.mode === 'offset' && p.pagination.total)).toEqual([5, 5]);
});

test('paginate follows next_cursor in cursor mode', async () => {
  const cursors: Record<string, { data: AgentFields[]; next: string | null }> = {
    '': { data: [{ id: fleet[0]!.id }, { id: fleet[1]!.id }], next: 'c2' },
    c2: { data: [{ id: fleet[2]!.id }, { id: fleet[3]!.id }], next: 'c3' },
    c3: { data: [{ id: fleet[4]!.id }], next: null },
  };
  const { fetch, calls } = fakeFetch(({ url }) => {
    const cursor = url.searchParams.get('cursor') ?? '';
    const page = cursors[cursor]!;
    const link = (c: string | null) => (c === null ? null : `/api/v1/agents?fields=id&limit=2&cursor=${c}`);
    return json(200, {
      success: true,
      data: page.data,
      meta: meta(),
      pagination: {
        mode: 'cursor',
        per_page: 2,
        has_next: page.next !== null,
        has_prev: cursor !== '',
        next_cursor: page.next,
        links: { self: link(cursor), first: link(''), prev: null, next: link(page.next) },
      },
    });
  });
  const client = createOpsdeckClient({ baseUrl, fetch });

  const items = await collect(
    paginate(client, '/api/v1/agents', { params: { query: { cursor: '', limit: 2, fields: ['id'] } } }),
  );

  expect(items).toEqual(fleet.map((a) => ({ id: a.id })));
  expect(calls.map((c) => c.url.searchParams.get('cursor'))).toEqual(['', 'c2', 'c3']);
  expect(calls.every((c) => c.url.searchParams.get('fields') === 'id' && c.url.searchParams.get('limit') === '2')).toBe(true);
});

test('a failed page throws OpsdeckError', async () => {
  const { fetch } = fakeFetch(() => failure(400, 'VAL_INVALID_PARAMETER'));
  const client = createOpsdeckClient({ baseUrl, fetch });

  await expect(collect(paginate(client, '/api/v1/agents'))).rejects.toMatchObject({
    name: 'OpsdeckError',
    code: 'VAL_INVALID_PARAMETER',
  });
});

/** The page a mock of the contract answers to every request: its example, whose `links.next` is not null. */
const examplePage = (limit: number) => ({
  success: true,
  data: fleet.slice(0, limit),
  meta: meta(),
  pagination: {
    mode: 'offset',
    page: 1,
    per_page: limit,
    total: 42,
    total_pages: Math.ceil(42 / limit),
    has_next: true,
    has_prev: false,
    links: {
      self: `/api/v1/agents?limit=${limit}&offset=0`,
      first: `/api/v1/agents?limit=${limit}&offset=0`,
      prev: null,
      next: `/api/v1/agents?limit=${limit}&offset=${limit}`,
      last: `/api/v1/agents?limit=${limit}&offset=40`,
    },
  },
});

test('a server that answers the same page again stops the walk with PaginationLoopError, each item given once', async () => {
  // What a static mock does: whatever is asked (here cursor: '', which it ignores), the same example page.
  const { fetch, calls } = fakeFetch(() => json(200, examplePage(2)));
  const client = createOpsdeckClient({ baseUrl, fetch });

  const seen: string[] = [];
  const walk = (async () => {
    for await (const a of paginate(client, '/api/v1/agents', { params: { query: { cursor: '' } } })) seen.push(a.id);
  })();

  const error = await walk.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(PaginationLoopError);
  expect(error).toMatchObject({ name: 'PaginationLoopError', path: '/api/v1/agents', page: '/api/v1/agents?limit=2&offset=0', pagesYielded: 1 });
  expect((error as Error).message).toContain('GET /api/v1/agents led back to a page already seen (/api/v1/agents?limit=2&offset=0)');
  expect(seen).toEqual(fleet.slice(0, 2).map((a) => a.id));
  expect(calls).toHaveLength(2);
});

test('links that lead back to a page already asked for stop the walk before asking again', async () => {
  // A cursor server whose third page points back at the second page's cursor.
  const chain: Record<string, string> = { '': 'c2', c2: 'c3', c3: 'c2' };
  const { fetch, calls } = fakeFetch(({ url }) => {
    const cursor = url.searchParams.get('cursor') ?? '';
    const next = chain[cursor]!;
    return json(200, {
      success: true,
      data: [fleet[Object.keys(chain).indexOf(cursor)]],
      meta: meta(),
      pagination: {
        mode: 'cursor',
        per_page: 1,
        has_next: true,
        has_prev: cursor !== '',
        next_cursor: next,
        links: { self: `/api/v1/agents?limit=1&cursor=${cursor}`, first: '/api/v1/agents?limit=1&cursor=', prev: null, next: `/api/v1/agents?limit=1&cursor=${next}` },
      },
    });
  });
  const client = createOpsdeckClient({ baseUrl, fetch });

  const seen: string[] = [];
  const all = pages(client, '/api/v1/agents', { params: { query: { limit: 1, cursor: '' } } });
  const error = await (async () => {
    for await (const page of all) seen.push(...page.data.map((a) => a.id));
  })().then(
    () => undefined,
    (err: unknown) => err,
  );

  // c3's next_cursor asks for c2 again, which was asked for already: no fourth request.
  expect(error).toMatchObject({ name: 'PaginationLoopError', page: '?cursor=c2&limit=1', pagesYielded: 3 });
  expect(seen).toEqual(fleet.slice(0, 3).map((a) => a.id));
  expect(calls.map((c) => c.url.searchParams.get('cursor'))).toEqual(['', 'c2', 'c3']);
});

test('a walk over distinct pages is not mistaken for a loop, whatever the order of the query', async () => {
  const { fetch, calls } = offsetServer();
  const client = createOpsdeckClient({ baseUrl, fetch });

  const items = await collect(paginate(client, '/api/v1/agents', { params: { query: { offset: 0, limit: 1, status: 'online' } } }));

  expect(items.map((a) => a.id)).toEqual(fleet.map((a) => a.id));
  expect(calls).toHaveLength(5);
});
