// Parent side of a server under test: spawns the entry script in its own Node process (so its RSS is
// its own), waits for its URL over IPC, samples its RSS on demand, and stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFlags } from './start-command.ts';
import { BENCH_CHILD_ENV, type ChildMessage, type ChildSettings, type ParentMessage } from './child-protocol.ts';

/** The servers under test, in the order they run. */
export const SERVERS = {
  bare: { label: 'bare node:http + pg', entry: 'server-bare.ts' },
  express: { label: 'plain Express 5 + pg', entry: 'server-express.ts' },
  opsdeck_edge_off: { label: 'Opsdeck, edge off', entry: 'server-opsdeck.ts' },
  opsdeck: { label: 'Opsdeck, edge on (Redis)', entry: 'server-opsdeck.ts' },
} as const;
export type ServerName = keyof typeof SERVERS;

export interface ServerUnderTest {
  readonly name: ServerName;
  readonly url: string;
  readonly pid: number;
  /** RSS of the child right after it was ready, in bytes. */
  readonly idleRss: number;
  /** Current RSS of the child, in bytes. */
  rss(): Promise<number>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Kills every child still running (on failure or interrupt). */
export function killAllServers(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function nextMessage<T extends ChildMessage['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: ChildMessage) => {
      if (message.type === type) {
        cleanup();
        resolve(message as Extract<ChildMessage, { type: T }>);
      } else if (message.type === 'failed') {
        cleanup();
        reject(new Error(message.error));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`the server process exited (${signal ?? `code ${code}`}) before answering "${type}"`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`the server process did not answer "${type}" within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function startServerProcess(name: ServerName, settings: ChildSettings): Promise<ServerUnderTest> {
  const entry = fileURLToPath(new URL(SERVERS[name].entry, import.meta.url));
  // BENCH_CPU_PROF=<dir>: each server (Opsdeck and the baselines) writes a V8 CPU profile there when it stops (open it in Chrome's
  // DevTools or speedscope), so what a figure costs can be seen where it is measured.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // Opsdeck runs with the Node flags of `npm start`; the baselines with Node's defaults.
  const flags = name.startsWith('opsdeck') ? startFlags() : ['--conditions=opsdeck-source'];
  const child = spawn(process.execPath, [...profile, ...flags, entry], {
    env: { ...process.env, NODE_ENV: 'production', [BENCH_CHILD_ENV]: JSON.stringify(settings) },
    // A baseline's stdout goes to our stderr: stdout carries only the results. Opsdeck logs every request at
    // info (its full stack, access log included), so its stdout is written, to /dev/null.
    stdio: ['ignore', name.startsWith('opsdeck') ? 'ignore' : 2, 'inherit', 'ipc'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const send = (message: ParentMessage) => child.connected && child.send(message);

  let ready: Extract<ChildMessage, { type: 'ready' }>;
  try {
    ready = await nextMessage(child, 'ready', 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${SERVERS[name].label} did not start: ${err instanceof Error ? err.message : String(err)}`);
  }

  return {
    name,
    url: ready.url,
    pid: child.pid ?? -1,
    idleRss: ready.rss,
    async rss() {
      const answer = nextMessage(child, 'rss', 5_000);
      send({ type: 'rss' });
      return (await answer).rss;
    },
    async stop() {
      const done = exited(child);
      send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}
