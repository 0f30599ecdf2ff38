// `node server/main.ts` as a child process, as `npm start` runs it: for tests that need a second real
// server process (several processes of one deployment sharing PostgreSQL and Redis).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildServer {
  readonly process: ChildProcess;
  readonly url: string;
  /** Everything it wrote so far (its JSON log lines). */
  readonly output: () => string;
  /** Resolves when it has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the server with exactly `env` (plus PATH); resolves with its URL once it logs that it is listening. */
export function startChildServer(env: Record<string, string>, timeoutMs = 20_000): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--conditions=opsdeck-source', 'server/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let buffered = '';
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`the child server did not start in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        let entry: { msg?: string };
        try {
          entry = JSON.parse(line) as { msg?: string };
        } catch {
          continue;
        }
        // main.ts: `Opsdeck is listening on <url>` (PUBLIC_URL, else the address it bound, with the real port).
        const match = /^Opsdeck is listening on (http:\/\/\S+)$/.exec(entry.msg ?? '');
        if (match) {
          clearTimeout(timer);
          resolve({ process: child, url: match[1]!, output: () => output, exited });
        }
      }
    });
    void exited.then(({ code, signal }) => fail(new Error(`the child server exited (${code ?? signal}) before listening:\n${output}`)));
  });
}

/**
 * `WEB_CONCURRENCY=2` over a test database and Redis, with the first administrator: resolves once both worker
 * processes say they listen (the first one's line resolves the start, the second's follows).
 */
export async function startTwoWorkers(databaseUrl: string, redisUrl: string, options: { transactionPooling?: boolean; keyPrefix: string; admin: { email: string; password: string } }): Promise<ChildServer> {
  const server = await startChildServer({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    WEB_CONCURRENCY: '2',
    DATABASE_URL: databaseUrl,
    ...(options.transactionPooling ? { DATABASE_TRANSACTION_POOLING: 'true' } : {}),
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: options.keyPrefix,
    OPSDECK_ADMIN_EMAIL: options.admin.email,
    OPSDECK_ADMIN_PASSWORD: options.admin.password,
    OPSDECK_DEMO_DATA: 'false',
    SHUTDOWN_GRACE_MS: '2000',
  });
  const deadline = Date.now() + 30_000;
  while ((server.output().match(/Opsdeck is listening on/g) ?? []).length < 2) {
    if (Date.now() > deadline) throw new Error(`the second worker did not start:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return server;
}
