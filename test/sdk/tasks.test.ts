// waitForTask and taskChildren against a fake server: reads until the task finishes, conditional reads and
// growing waits while nothing changes, Retry-After honoured, aborting, and a fleet task's children by cursor.
import { expect, test } from 'vitest';
import { createOpsdeckClient, OpsdeckError, taskChildren, waitForTask, type components } from '@opsdeck/sdk';
import { failure, fakeFetch, json, meta } from './fake-server.ts';

type Task = components['schemas']['Task'];
const baseUrl = 'https://opsdeck.test';
const parentId = '0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e10';

function task(status: Task['status'], progress: number, succeeded = 0): Task {
  return {
    id: parentId,
    team_id: '0192f0a0-0000-7000-8000-00000000000a',
    agent_id: null,
    kind: 'fleet',
    parent_id: null,
    template_id: null,
    template_version: null,
    fleet: {
      target: { group_id: '0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60' },
      concurrency: 2,
      failure_threshold_percent: 100,
      queue_if_offline: false,
      total: 4,
      counts: { pending: 4 - succeeded, running: 0, succeeded, failed: 0, cancelled: 0, skipped_offline: 0 },
      stopped_reason: null,
    },
    type: 'reboot',
    status,
    progress,
    eta: null,
    parameters: {},
    result: null,
    error: null,
    attempt: 1,
    retry_of: null,
    queued_offline: false,
    created_by: null,
    created_at: '2026-11-21T10:30:00.000Z',
    updated_at: '2026-11-21T10:30:00.000Z',
    started_at: null,
    finished_at: null,
  };
}
const read = (t: Task, etag: string) => json(200, { success: true, data: t, meta: meta() }, { ETag: etag });
const notModified = (etag: string) => new Response(null, { status: 304, headers: { ETag: etag } });

test('waitForTask reads until the task finishes, reporting each change, with conditional reads while nothing changes', async () => {
  const answers = [read(task('pending', 0), '"a"'), notModified('"a"'), read(task('running', 50, 2), '"b"'), notModified('"b"'), read(task('succeeded', 100, 4), '"c"')];
  const { fetch, calls } = fakeFetch((_call, i) => answers[i]!);
  const client = createOpsdeckClient({ baseUrl, fetch, retries: false });
  const seen: Array<[string, number]> = [];
  const done = await waitForTask(client, parentId, { intervalMs: 1, onProgress: (t) => seen.push([t.status, t.progress]) });
  expect(done.status).toBe('succeeded');
  expect(done.fleet?.counts.succeeded).toBe(4);
  expect(seen).toEqual([['pending', 0], ['running', 50], ['succeeded', 100]]);
  expect(calls.map((c) => c.url.pathname)).toEqual(Array(5).fill(`/api/v1/tasks/${parentId}`));
  expect(calls.map((c) => c.request.headers.get('if-none-match'))).toEqual([null, '"a"', '"a"', '"b"', '"b"']);
});

test('waitForTask waits out a 429 for its Retry-After and goes on; other failures reject', async () => {
  const answers = [failure(429, 'RATE_LIMIT_EXCEEDED', { 'Retry-After': '1' }), read(task('failed', 100), '"z"')];
  const { fetch, calls } = fakeFetch((_call, i) => answers[i]!);
  const client = createOpsdeckClient({ baseUrl, fetch, retries: false });
  const started = Date.now();
  expect((await waitForTask(client, parentId, { intervalMs: 1 })).status).toBe('failed');
  expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  expect(calls).toHaveLength(2);

  const missing = fakeFetch(() => failure(404, 'RES_NOT_FOUND'));
  const error = await waitForTask(createOpsdeckClient({ baseUrl, fetch: missing.fetch, retries: false }), parentId, { intervalMs: 1 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpsdeckError);
  expect((error as OpsdeckError).status).toBe(404);
});

test('waitForTask stops when its signal aborts, with the signal’s reason', async () => {
  const { fetch, calls } = fakeFetch(() => read(task('running', 10), '"r"'));
  const client = createOpsdeckClient({ baseUrl, fetch, retries: false });
  const controller = new AbortController();
  const waiting = waitForTask(client, parentId, { intervalMs: 50, signal: controller.signal });
  setTimeout(() => controller.abort(new Error('no longer needed')), 120);
  await expect(waiting).rejects.toThrow('no longer needed');
  const reads = calls.length;
  expect(reads).toBeGreaterThanOrEqual(1);
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(calls.length).toBe(reads);
});

test('taskChildren walks every page of the children, by cursor, oldest first, with the given filters', async () => {
  const kids = [1, 2, 3].map((n) => ({ id: `0192f1a0-1b2c-7d3e-8f40-00000000000${n}`, parent_id: parentId, status: 'failed' }));
  const { fetch, calls } = fakeFetch(({ url }) => {
    const at = url.searchParams.get('cursor') === '' ? 0 : Number(url.searchParams.get('cursor'));
    const next = at + 2 < kids.length ? String(at + 2) : null;
    return json(200, {
      success: true,
      data: kids.slice(at, at + 2),
      meta: meta(),
      pagination: { mode: 'cursor', per_page: 2, has_next: next !== null, next_cursor: next, links: { self: `/api/v1/tasks?cursor=${at}`, next: next && `/api/v1/tasks?cursor=${next}` } },
    });
  });
  const client = createOpsdeckClient({ baseUrl, fetch, retries: false });
  const all = [];
  for await (const child of taskChildren(client, parentId, { status: 'failed', limit: 2 })) all.push(child.id);
  expect(all).toEqual(kids.map((k) => k.id));
  expect(calls).toHaveLength(2);
  for (const call of calls) {
    expect(call.url.searchParams.get('parent_id')).toBe(parentId);
    expect(call.url.searchParams.get('status')).toBe('failed');
    expect(call.url.searchParams.get('sort')).toBe('created_at:asc');
  }
});
