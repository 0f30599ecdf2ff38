// The bench's `startup` section: how long `npm start` takes to be ready (its "Opsdeck is listening" line), as a
// new user meets it: the first start on the embedded default (a new PGlite directory, as on a clean clone:
// the database is created, migrated and given its demo data), a second start on the same directory, and a
// start on real PostgreSQL (the bench database, already migrated). Each server is then stopped with SIGTERM.
// The command is the `start` script of package.json, run with this Node (what npm would run), so the figure
// is of the real thing.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log } from './log.ts';
import { startArguments } from './start-command.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface StartupReport {
  /** First `npm start` on the embedded default (new PGlite directory), in ms. */
  embedded_first_ms: number;
  /** Second start on the same directory, in ms. */
  embedded_second_ms: number;
  /** A start on real PostgreSQL (already migrated), in ms. */
  postgres_ms: number;
  /** RSS of the PostgreSQL-backed server once ready, in MB. */
  postgres_ready_rss_mb: number;
}


/** Starts the server, resolves with the ms until it says it listens and its RSS then, and stops it. */
async function timeStart(env: Record<string, string>, label: string): Promise<{ ms: number; rssMb: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, startArguments(), { cwd: root, env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const ms = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`${label}: not ready within 120 s`)), 120_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        if (/"msg":"Opsdeck is listening on /.test(buffered)) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
        buffered = buffered.slice(-4096);
      });
      void exited.then(() => reject(new Error(`${label}: the server exited before it was ready`)));
    });
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
    log.info('startup measured', { start: label, ms: Math.round(ms) });
    return { ms: Math.round(ms), rssMb: Math.round(rssKb / 102.4) / 10 };
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

export async function measureStartup(databaseUrl: string): Promise<StartupReport> {
  const dir = mkdtempSync(join(tmpdir(), 'opsdeck-bench-pglite-'));
  try {
    // The embedded default as `npm start` runs it on a clean clone: no configuration at all but the directory.
    const embedded = { PGLITE_DIR: join(dir, 'pglite') };
    const first = await timeStart(embedded, 'embedded, first start');
    const second = await timeStart(embedded, 'embedded, second start');
    const postgres = await timeStart(
      { DATABASE_URL: databaseUrl, OPSDECK_DEMO_DATA: 'false', BACKGROUND_WORKERS: 'true', JWT_SECRET: 'bench-startup-secret-0123456789abcdef', SECRETS_KEY: 'b'.repeat(64) },
      'PostgreSQL',
    );
    return { embedded_first_ms: first.ms, embedded_second_ms: second.ms, postgres_ms: postgres.ms, postgres_ready_rss_mb: postgres.rssMb };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
