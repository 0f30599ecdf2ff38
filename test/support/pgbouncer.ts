// A real PgBouncer for tests (Debian's `pgbouncer`), in transaction pooling mode, on a free loopback port, in front
// of the test PostgreSQL: any database name is passed through (`*`), clients are trusted, and a small pool per
// database makes many client connections share few server connections, so anything that relied on session state
// would meet another client's session. PgBouncer refuses to run as root: as root it is started with `-u nobody`.
import { spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './redis-server.ts';

export interface PgBouncer {
  readonly host: string;
  readonly port: number;
  /** `databaseUrl` with its host and port replaced by PgBouncer's. */
  via(databaseUrl: string): string;
  /** Everything PgBouncer logged so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Where the pgbouncer binary is (Debian installs it in /usr/sbin, not always on a user's PATH), if anywhere. */
export async function pgbouncerBinary(): Promise<string | undefined> {
  const candidates = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin'].map((dir) => join(dir, 'pgbouncer'));
  for (const candidate of candidates) {
    if (await access(candidate).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

/** Starts PgBouncer in front of the PostgreSQL of `targetUrl` (its host, port, user and password). */
export async function startPgBouncer(targetUrl: string, options: { poolSize?: number } = {}): Promise<PgBouncer> {
  const binary = await pgbouncerBinary();
  if (!binary) throw new Error('pgbouncer is not installed (apt-get install pgbouncer)');
  const target = new URL(targetUrl);
  const user = decodeURIComponent(target.username || 'postgres');
  const password = decodeURIComponent(target.password);
  const dir = await mkdtemp(join(tmpdir(), 'opsdeck-pgbouncer-'));
  // Readable by the user PgBouncer switches to.
  await chmod(dir, 0o755);
  for (let attempt = 0; ; attempt += 1) {
    const port = await freePort();
    const ini = [
      '[databases]',
      `* = host=${target.hostname} port=${target.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 4}`,
      'max_client_conn = 1000',
      'logfile =',
      'pidfile =',
      'log_connections = 0',
      'log_disconnections = 0',
    ].join('\n');
    await writeFile(join(dir, 'pgbouncer.ini'), `${ini}\n`, { mode: 0o644 });
    await writeFile(join(dir, 'userlist.txt'), `"${user}" "${password.replace(/"/g, '""')}"\n`, { mode: 0o644 });
    const asRoot = process.getuid?.() === 0;
    const child: ChildProcess = spawn(binary, [...(asRoot ? ['-u', 'nobody'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    };
    const via = (databaseUrl: string) => {
      const url = new URL(databaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    };
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!ready && Date.now() < deadline && child.exitCode === null) {
      const client = new pg.Client({ connectionString: via(targetUrl), connectionTimeoutMillis: 1000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('select 1');
        ready = true;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    if (ready) {
      return {
        host: '127.0.0.1',
        port,
        via,
        output: () => output,
        async stop() {
          await stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    await stop();
    // The port was taken between the probe and PgBouncer's start: try another one.
    if (attempt >= 2 || !/address already in use/i.test(output)) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start:\n${output.trim()}`);
    }
  }
}
