// Long-running work: wait for a task (an agent's, or a fleet task and its children) to finish while watching its
// progress, and walk a fleet task's children.
import type { Client } from 'openapi-fetch';
import { getIfChanged } from './edge.ts';
import { OpsdeckError } from './errors.ts';
import { paginate, type ListInit, type ListItem } from './pagination.ts';
import { retryAfterMs, sleep } from './retry.ts';
import type { components, paths } from './types.ts';

type Task = components['schemas']['Task'];

const FINISHED: ReadonlySet<Task['status']> = new Set(['succeeded', 'failed', 'cancelled']);

export interface WaitForTaskOptions {
  /** Called with the task at the first read and whenever it changed (status, progress, a fleet task's counts). */
  onProgress?: (task: Task) => void;
  /** Stops the wait: the promise rejects with the signal's reason, and the read under way is aborted. */
  signal?: AbortSignal;
  /** The wait between reads after a change; it grows by half at each unchanged read, up to `maxIntervalMs`. Default 1 000. */
  intervalMs?: number;
  /** The longest wait between reads (a `Retry-After` is waited for whatever its length). Default 15 000, or `intervalMs` if larger. */
  maxIntervalMs?: number;
}

/**
 * Reads the task until it is finished (`succeeded`, `failed` or `cancelled`) and resolves with it. Each read is
 * conditional (`If-None-Match`): an unchanged task costs a `304`, and the wait grows while nothing changes. A
 * 429 or 503 is waited out (its `Retry-After`, else a doubled wait) and the reads go on; any other failure rejects.
 *
 * ```ts
 * const accepted = await unwrap(opsdeck.POST('/api/v1/tasks', { body }));
 * const done = await waitForTask(opsdeck, accepted.task_id, { onProgress: (t) => console.log(t.progress, t.fleet?.counts) });
 * ```
 */
export async function waitForTask(client: Client<paths>, taskId: string, options: WaitForTaskOptions = {}): Promise<Task> {
  const { onProgress, signal, intervalMs = 1_000 } = options;
  const maxIntervalMs = Math.max(intervalMs, options.maxIntervalMs ?? 15_000);
  let etag: string | undefined;
  let wait = intervalMs;
  for (;;) {
    signal?.throwIfAborted();
    let delay: number;
    try {
      const read = await getIfChanged(client, '/api/v1/tasks/{task_id}', { params: { path: { task_id: taskId } }, ...(signal ? { signal } : {}) }, etag);
      if (read.notModified) wait = Math.min(maxIntervalMs, wait * 1.5);
      else {
        etag = read.etag;
        wait = intervalMs;
        onProgress?.(read.data);
        if (FINISHED.has(read.data.status)) return read.data;
      }
      delay = wait;
    } catch (error) {
      if (!(error instanceof OpsdeckError) || (error.status !== 429 && error.status !== 503)) throw error;
      wait = Math.min(maxIntervalMs, wait * 2);
      delay = retryAfterMs(error) ?? wait;
    }
    await sleep(delay, signal);
  }
}

type TaskListQuery = NonNullable<NonNullable<ListInit<'/api/v1/tasks'>>['params']>['query'];

/**
 * The children of a fleet task, oldest first, across every page (cursor mode: nothing is counted, and a page
 * costs the same at any depth); `query` narrows them as `listTasks` does (`status`, `fields`, …).
 *
 * ```ts
 * for await (const child of taskChildren(opsdeck, parentId, { status: 'failed' })) console.log(child.agent_id, child.error);
 * ```
 */
export function taskChildren(
  client: Client<paths>,
  parentId: string,
  query: Omit<NonNullable<TaskListQuery>, 'parent_id' | 'cursor' | 'offset'> = {},
): AsyncGenerator<ListItem<'/api/v1/tasks'>, void, undefined> {
  return paginate(client, '/api/v1/tasks', { params: { query: { sort: 'created_at:asc', ...query, parent_id: parentId, cursor: '' } } });
}
