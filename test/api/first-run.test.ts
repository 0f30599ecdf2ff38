// A fresh installation can be used at once: a one-time administrator password printed at first
// start, or the administrator from configuration; the embedded default brings demo data.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { templatePath } from '../../server/db/embedded.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';
import { http } from '../support/http.ts';
import { bearer, login } from '../support/identity.ts';

let running: RunningServer | undefined;
let database: TestDatabase | undefined;
afterEach(async () => {
  await running?.stop();
  await database?.drop();
  running = undefined;
  database = undefined;
});

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('first run', () => {
  it('prints a one-time password for the first administrator, which signs in', async () => {
    database = await createTestDatabase();
    const { log, lines } = capturingLogger();
    running = await startServer(loadConfig({ NODE_ENV: 'test', PORT: '0', PGLITE_DIR: 'memory://', OPSDECK_DEMO_DATA: 'false', ...(database.url ? { DATABASE_URL: database.url } : {}) }), log);
    const line = lines.find((l) => typeof l.one_time_password === 'string');
    expect(line).toMatchObject({ email: 'admin@opsdeck.local', level: 40 });
    const tokens = await login(running.url, 'admin@opsdeck.local', String(line!.one_time_password));
    const profile = await http(running.url, 'GET', '/api/v1/auth/profile', { headers: bearer(tokens.access_token) });
    expect(profile.body.data.role).toBe('admin');
  });

  it('takes the first administrator from configuration and prints no password', async () => {
    database = await createTestDatabase();
    const { log, lines } = capturingLogger();
    running = await startServer(
      loadConfig({
        NODE_ENV: 'test',
        PORT: '0',
        PGLITE_DIR: 'memory://',
        OPSDECK_DEMO_DATA: 'false',
        OPSDECK_ADMIN_EMAIL: 'root@example.com',
        OPSDECK_ADMIN_PASSWORD: 'configured-admin-password',
        ...(database.url ? { DATABASE_URL: database.url } : {}),
      }),
      log,
    );
    expect(JSON.stringify(lines)).not.toContain('configured-admin-password');
    expect((await login(running.url, 'root@example.com', 'configured-admin-password')).access_token).toBeTruthy();
  });

  it('fills the embedded database with demo teams, users of each role and agents', async () => {
    const { log } = capturingLogger();
    running = await startServer(loadConfig({ NODE_ENV: 'test', PORT: '0', PGLITE_DIR: 'memory://' }), log);
    expect(running.database.backend).toBe('pglite');
    for (const [email, role] of [['admin@opsdeck.local', 'admin'], ['operator@opsdeck.local', 'operator'], ['viewer@opsdeck.local', 'viewer']]) {
      const tokens = await login(running.url, email!, 'opsdeck-demo-password');
      const profile = await http(running.url, 'GET', '/api/v1/auth/profile', { headers: bearer(tokens.access_token) });
      expect(profile.body.data.role).toBe(role);
    }
    const viewer = await login(running.url, 'viewer@opsdeck.local', 'opsdeck-demo-password');
    const agents = await http(running.url, 'GET', '/api/v2/agents', { headers: bearer(viewer.access_token) });
    expect(agents.body.data.map((a: { hostname: string }) => a.hostname).sort()).toEqual(['pay-api-01.payments.example.com', 'pay-db-01.payments.example.com']);
    const admin = await login(running.url, 'admin@opsdeck.local', 'opsdeck-demo-password');
    const teams = await http(running.url, 'GET', '/api/v1/teams', { headers: bearer(admin.access_token) });
    expect(teams.body.data.map((t: { name: string }) => t.name)).toEqual(['Payments', 'Platform']);
  });

  it('fills a new embedded directory from the template made at install, and opens it as it is the next time', async () => {
    // `npm install` makes the template (scripts/embedded-template.ts); without it a first start runs initdb.
    expect(existsSync(templatePath()), `no template at ${templatePath()}: run npm install`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'opsdeck-first-run-'));
    try {
      const env = { NODE_ENV: 'test', PORT: '0', PGLITE_DIR: join(dir, 'pglite') };
      const first = capturingLogger();
      running = await startServer(loadConfig(env), first.log);
      expect(first.lines.some((line) => line.msg === 'embedded database created from the template made at install')).toBe(true);
      const admin = await login(running.url, 'admin@opsdeck.local', 'opsdeck-demo-password');
      const made = await http(running.url, 'POST', '/api/v1/teams', { headers: bearer(admin.access_token), json: { name: 'Kept' } });
      expect(made.status, made.text).toBe(201);
      await running.stop();

      const second = capturingLogger();
      running = await startServer(loadConfig(env), second.log);
      expect(second.lines.some((line) => String(line.msg).includes('template'))).toBe(false);
      const again = await login(running.url, 'admin@opsdeck.local', 'opsdeck-demo-password');
      const teams = await http(running.url, 'GET', '/api/v1/teams', { headers: bearer(again.access_token) });
      expect(teams.body.data.map((t: { name: string }) => t.name)).toContain('Kept');
    } finally {
      await running?.stop();
      running = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
