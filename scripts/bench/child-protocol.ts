// The IPC protocol between the bench (parent) and a server under test (child process), so each server's
// RSS is its own. Child → parent: `ready` with its URL, `rss` on request, `failed` when it cannot start.
// Parent → child: `rss`, `stop`.
export type ParentMessage = { type: 'rss' } | { type: 'stop' };
export type ChildMessage =
  | { type: 'ready'; url: string; rss: number }
  | { type: 'rss'; rss: number }
  | { type: 'failed'; error: string };

/** The environment variable that hands a child its `ChildSettings`, as JSON. */
export const BENCH_CHILD_ENV = 'OPSDECK_BENCH_CHILD';

/** What a server under test is told at start. */
export interface ChildSettings {
  databaseUrl: string;
  /** The team the seeded agents belong to (the baselines scope their queries to it). */
  teamId: string | undefined;
  /** Opsdeck's configuration beyond the bench's fixed settings (JWT secret, admin, edge on or off). */
  config: Record<string, string>;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

/**
 * Runs a server under test inside the child: `start` gets its settings and resolves with the URL the
 * server listens on and a stop function. The child exits when told to stop or when the parent goes away.
 */
export async function serveUnderBench(start: (settings: ChildSettings) => Promise<{ url: string; stop: () => Promise<void> }>): Promise<void> {
  if (!process.send) throw new Error('a bench server runs as a child of scripts/bench.ts (it needs an IPC channel)');
  const raw = process.env[BENCH_CHILD_ENV];
  if (!raw) throw new Error(`${BENCH_CHILD_ENV} is not set`);
  const settings = JSON.parse(raw) as ChildSettings;

  let running: { url: string; stop: () => Promise<void> };
  try {
    running = await start(settings);
  } catch (err) {
    send({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
    process.disconnect?.();
    process.exitCode = 1;
    return;
  }

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(0), 5_000);
    force.unref();
    await running.stop().catch(() => {});
    if (process.connected) process.disconnect();
    process.exit(0);
  };

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'rss') send({ type: 'rss', rss: process.memoryUsage().rss });
    else if (message.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  process.on('SIGINT', () => {}); // the parent decides when a child stops (Ctrl-C reaches the whole group)
  process.on('SIGTERM', () => void stop());
  send({ type: 'ready', url: running.url, rss: process.memoryUsage().rss });
}
