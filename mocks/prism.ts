// Starts Prism (the Stoplight mock server) on the bundled contract in static mode: every answer is
// one of the spec's own examples, and every request is validated against the contract first. CORS is
// open to every origin (see `mockContract`).
// Prism runs as a child process on this Node (process.execPath), not on whatever `node` is on PATH.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const defaultSpecPath = fileURLToPath(new URL('../generated/openapi.json', import.meta.url));

export interface PrismOptions {
  /** Port to listen on; a free one is picked when omitted or 0. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** The contract to mock. Default generated/openapi.json. */
  spec?: string;
  /** How long to wait for Prism to answer GET /health/live with 200. Default 30 s. */
  readyTimeoutMs?: number;
  /** Where Prism's own log lines go. Default: nowhere (they are kept for error messages only). */
  log?: NodeJS.WritableStream;
}

export interface RunningPrism {
  /** Base URL, e.g. http://127.0.0.1:4010 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Settles when the Prism process exits, for whatever reason. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops Prism: `signal` (default SIGTERM), then SIGKILL after a grace period. Safe to call more than once. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const READY_PATH = '/health/live';
const STOP_GRACE_MS = 5000;
const KEPT_OUTPUT_CHARS = 8000;

/** The JS file of the prism CLI, so it can run as `process.execPath <file>`. */
export function prismCliPath(): string {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('@stoplight/prism-cli/package.json');
  const pkg = require(packageJson) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin?.prism ?? 'dist/index.js');
  return join(dirname(packageJson), bin);
}

/** Resolves when `port` on `host` can be bound right now; rejects with EADDRINUSE & co. otherwise. */
async function assertPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`Prism cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is already in use' : err.message}`)),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

/** Asks the OS for a free TCP port on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not determine a free port'))));
    });
  });
}

/** `Access-Control-Allow-Origin` and the like: CORS is the mock's own business, not the examples'. */
const CORS_HEADER = /^access-control-/i;

/**
 * The contract as the mock serves it: the same document without the CORS headers of its responses.
 * Prism answers every request with CORS open (the caller's `Origin`, any header, credentials allowed,
 * every header exposed) and then sets each header the answer declares to its example; the contract's
 * `Access-Control-Allow-Origin` example (one console origin, as a configured server would send it) would
 * otherwise replace the caller's origin, and browsers on any other origin could read nothing.
 */
export function mockContract(document: unknown): unknown {
  const strip = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) strip(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      // `headers` maps are the headers of a response (or of a multipart encoding); request headers are parameters.
      if (key === 'headers' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const name of Object.keys(value)) if (CORS_HEADER.test(name)) delete (value as Record<string, unknown>)[name];
      }
      strip(value);
    }
  };
  const copy = structuredClone(document);
  strip(copy);
  return copy;
}

/** Writes the mock's contract (see `mockContract`) to a fresh temporary directory; `remove` deletes it. */
function writeMockContract(spec: string): { file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'opsdeck-mock-'));
  const file = join(dir, 'openapi.json');
  writeFileSync(file, JSON.stringify(mockContract(JSON.parse(readFileSync(spec, 'utf8')) as unknown)));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function keepTail(buffer: { text: string }, chunk: Buffer | string): void {
  buffer.text = (buffer.text + chunk.toString()).slice(-KEPT_OUTPUT_CHARS);
}

// Prism logs with ANSI colours when it thinks it has a terminal; strip them from error messages.
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');

async function startOnce(port: number, host: string, spec: string, readyTimeoutMs: number, log: NodeJS.WritableStream | undefined): Promise<RunningPrism> {
  const args = [prismCliPath(), 'mock', spec, '--host', host, '--port', String(port), '--dynamic=false'];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  const stderr = { text: '' };
  const stdout = { text: '' };
  // Prism says so once *it* has bound the port; until then a 200 could come from someone else there.
  let listening = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    keepTail(stdout, chunk);
    if (!listening && stripAnsi(stdout.text).includes('Prism is listening on')) listening = true;
    log?.write(chunk);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    keepTail(stderr, chunk);
    log?.write(chunk);
  });

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      exitInfo ??= { code: null, signal: null };
      resolve(exitInfo);
    });
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });

  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const describeOutput = () => {
    const err = stripAnsi(stderr.text).trim();
    const out = stripAnsi(stdout.text).trim();
    return [err && `Prism stderr:\n${err}`, out && `Prism stdout:\n${out}`].filter(Boolean).join('\n') || 'Prism printed nothing';
  };

  let stopping: Promise<void> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    stopping ??= (async () => {
      if (exitInfo) return;
      child.kill(signal);
      const killed = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };

  const deadline = Date.now() + readyTimeoutMs;
  let lastProblem = 'no answer yet';
  for (;;) {
    if (spawnError) throw new Error(`Prism could not be started (${process.execPath} ${args.join(' ')}): ${spawnError.message}`);
    if (exitInfo) {
      throw Object.assign(
        new Error(`Prism exited before it answered on ${url} (code ${exitInfo.code}, signal ${exitInfo.signal}).\n${describeOutput()}`),
        { prismOutput: stderr.text + stdout.text },
      );
    }
    if (!listening) {
      lastProblem = 'Prism has not said it is listening yet';
    } else {
      try {
        const res = await fetch(`${url}${READY_PATH}`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
        lastProblem = `GET ${READY_PATH} answered ${res.status}`;
      } catch (err) {
        lastProblem = `GET ${READY_PATH} failed: ${(err as Error).message}`;
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Prism did not answer on ${url} within ${readyTimeoutMs} ms (${lastProblem}).\n${describeOutput()}`);
    }
    await sleep(100);
  }

  return { url, port, pid: child.pid, exited, stop };
}

/**
 * Starts Prism in static mode on the contract and resolves once GET /health/live answers 200.
 * Rejects (with Prism's output in the message) when Prism exits early or does not answer in time.
 */
export async function startPrism(options: PrismOptions = {}): Promise<RunningPrism> {
  const host = options.host ?? '127.0.0.1';
  const spec = options.spec ?? defaultSpecPath;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  if (!existsSync(spec)) throw new Error(`The contract ${spec} does not exist; run \`npm run generate\` first`);
  const contract = writeMockContract(spec);
  const pickPort = !options.port;
  try {
    // A picked port can be taken by someone else before Prism binds it; then try another one.
    for (let attempt = 1; ; attempt++) {
      const port = options.port || (await freePort(host));
      if (!pickPort) await assertPortFree(port, host);
      try {
        const prism = await startOnce(port, host, contract.file, readyTimeoutMs, options.log);
        void prism.exited.then(() => contract.remove());
        return prism;
      } catch (err) {
        const text = String((err as { prismOutput?: string }).prismOutput ?? '');
        if (pickPort && attempt < 3 && text.includes('EADDRINUSE')) continue;
        throw err;
      }
    }
  } catch (err) {
    contract.remove();
    throw err;
  }
}
