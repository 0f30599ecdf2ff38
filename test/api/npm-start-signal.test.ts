// `npm start` as a container's command, or a supervisor's: SIGTERM sent to the npm process stops the server
// gracefully. npm runs the script through `sh -c`; the script's `exec` makes sh replace itself with node, so
// npm's one child is the server and the signal npm passes on reaches it (without it, sh died and left the server
// running as an orphan). Also: the image's and compose's healthcheck commands pass against the running server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, testRedis, type TestDatabase } from '../support/backends.ts';
import { execForm, healthcheckOf, parseCompose, parseDockerfile, readRootFile, root } from '../support/deploy-files.ts';
import { dropKeys } from '../support/server.ts';

interface LogLine {
  msg?: string;
  signal?: string;
}

let database: TestDatabase;
let redisUrl: string | undefined;
const redisKeyPrefix = `opsdeck-test:npm-start:${process.pid}:`;
let npm: ChildProcess;
let output = '';
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let url: string;

/** Parent of each live process, from /proc (Linux). Zombies count as gone. */
function processTable(): Map<number, { ppid: number; command: string }> {
  const table = new Map<number, { ppid: number; command: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses, so read after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      table.set(Number(entry), { ppid: Number(ppid), command });
    } catch {
      // it ended while being read
    }
  }
  return table;
}

function descendants(pid: number): { pid: number; ppid: number; command: string }[] {
  const table = processTable();
  const found: { pid: number; ppid: number; command: string }[] = [];
  const walk = (parent: number) => {
    for (const [child, { ppid, command }] of table) {
      if (ppid === parent) {
        found.push({ pid: child, ppid, command });
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

const alive = (pid: number): boolean => processTable().has(pid);

const logLines = (): LogLine[] =>
  output.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });

beforeAll(async () => {
  database = await createTestDatabase();
  redisUrl = await testRedis();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? root,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
    PGLITE_DIR: 'memory://',
    OPSDECK_DEMO_DATA: 'false',
    SHUTDOWN_GRACE_MS: '2000',
    REDIS_KEY_PREFIX: redisKeyPrefix,
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  };
  // Its own process group, so that whatever is left can be cleaned up even when the test fails; the signal under
  // test goes to npm's pid alone, as `docker stop` or a supervisor sends it.
  npm = spawn('npm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  exited = new Promise((resolve) => npm.once('exit', (code, signal) => resolve({ code, signal })));
  npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const listening = logLines().map((l) => /^Opsdeck is listening on (http:\/\/\S+)$/.exec(l.msg ?? '')).find(Boolean);
      if (listening) {
        clearInterval(timer);
        resolve(listening[1]!);
      }
    }, 50);
    void exited.then(({ code, signal }) => {
      clearInterval(timer);
      reject(new Error(`npm start exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}, 90_000);

afterAll(async () => {
  if (npm?.pid) {
    try {
      process.kill(-npm.pid, 'SIGKILL');
    } catch {
      // the group is gone, as it should be
    }
  }
  if (redisUrl) {
    const redis = new Redis(redisUrl);
    await dropKeys(redis, redisKeyPrefix);
    redis.disconnect();
  }
  await database?.drop();
});

it("the image's and compose's healthcheck commands pass against the running server", () => {
  const port = new URL(url).port;
  const dockerfile = parseDockerfile(readRootFile('Dockerfile'));
  const healthcheck = dockerfile.at(-1)!.instructions.find((i) => i.keyword === 'HEALTHCHECK')!;
  const fromImage = execForm(healthcheckOf(healthcheck).command)!;
  const fromCompose = parseCompose(readRootFile('compose.yaml')).services.opsdeck!.healthcheck!.test as string[];
  for (const command of [fromImage, fromCompose.slice(1)]) {
    expect(command[0]).toBe('node');
    const result = spawnSync(process.execPath, command.slice(1), { env: { PORT: port }, timeout: 10_000 });
    expect(result.status, `${command.join(' ')}\n${result.stderr}`).toBe(0);
    // Nothing listens on port 1: the same command fails.
    expect(spawnSync(process.execPath, command.slice(1), { env: { PORT: '1' }, timeout: 10_000 }).status).toBe(1);
  }
});

it('stops the server gracefully, leaving no process behind, when npm start gets SIGTERM', async () => {
  const pid = npm.pid!;
  const children = descendants(pid);
  const server = children.find((c) => /^(\S*\/)?node\s.*server\/main\.ts$/.test(c.command));
  expect(server, JSON.stringify(children)).toBeDefined();
  expect((await fetch(`${url}/health/ready`)).status).toBe(200);

  const sent = Date.now();
  process.kill(pid, 'SIGTERM');
  const result = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000))]);
  expect(result, `npm did not exit within 20 s of SIGTERM:\n${output}`).not.toBe('timeout');
  const deadline = Date.now() + 5_000;
  while (alive(server!.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(alive(server!.pid), `the server (pid ${server!.pid}) outlived npm: an orphan`).toBe(false);
  expect(children.filter((c) => alive(c.pid))).toEqual([]);
  expect(Date.now() - sent).toBeLessThan(20_000);

  const lines = logLines();
  expect(lines).toContainEqual(expect.objectContaining({ msg: 'signal received', signal: 'SIGTERM' }));
  expect(lines.map((l) => l.msg)).toContain('stopped');
  await expect(fetch(`${url}/health/live`)).rejects.toThrow();
  // How: npm's only descendant was node running the server, its direct child (exec: no sh in between).
  expect(children, JSON.stringify(children)).toHaveLength(1);
  expect(server!.ppid).toBe(pid);
});
