import { expect, test } from 'vitest';
import { createOpsdeckClient, pages, paginate, type AgentFields } from '@opsdeck/sdk';
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
