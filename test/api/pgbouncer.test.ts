// Opsdeck through a real PgBouncer in transaction pooling mode (test/support/pgbouncer.ts), where consecutive
// transactions of one client connection may run on different server connections and a server connection serves
// many clients in turn: nothing may rely on session state. First, what is particular to it: several processes
// migrate one new database at once through it (the migrations' lock is a transaction's), and a server that would
// send a session setting at connection is refused by PgBouncer, which DATABASE_TRANSACTION_POOLING avoids. Then a
// representative set of API suites again, each server's DATABASE_URL pointing at PgBouncer (TEST_DATABASE_POOLER):
// identity, agents and the agent protocol, tasks, alerts, the event outbox and webhook deliveries.
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { adminDatabaseUrl, createTestDatabase, postgresAnswers } from '../support/backends.ts';
import { http } from '../support/http.ts';
import { pgbouncerBinary, startPgBouncer } from '../support/pgbouncer.ts';

const required = ['1', 'true', 'yes'].includes((process.env.OPSDECK_REQUIRE_EXTERNAL_BACKENDS ?? '').toLowerCase());
const [binary, postgres] = await Promise.all([pgbouncerBinary(), postgresAnswers()]);
if (required && !binary) throw new Error('pgbouncer is needed for the PgBouncer tests (OPSDECK_REQUIRE_EXTERNAL_BACKENDS is set): apt-get install pgbouncer');
const bouncer = binary && postgres ? await startPgBouncer(adminDatabaseUrl) : undefined;

if (!bouncer) {
  describe('through PgBouncer', () => it.skip(binary ? 'needs PostgreSQL' : 'needs pgbouncer (apt-get install pgbouncer)'));
} else {
  const previous = process.env.TEST_DATABASE_POOLER;
  process.env.TEST_DATABASE_POOLER = `${bouncer.host}:${bouncer.port}`;
  // Registered first, so it runs after every suite's own afterAll (hooks after tests run in reverse order).
  afterAll(async () => {
    if (previous === undefined) delete process.env.TEST_DATABASE_POOLER;
    else process.env.TEST_DATABASE_POOLER = previous;
    await bouncer.stop();
  });

  describe('through PgBouncer in transaction mode', () => {
    const settings = (url: string, extra: Record<string, string> = {}) =>
      loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OPSDECK_DEMO_DATA: 'false', DATABASE_URL: url, ...extra });

    it('migrates a new database from three processes at once, and each of them serves', async () => {
      const database = await createTestDatabase();
      expect(database.transactionPooling).toBe(true);
      const started: RunningServer[] = [];
      try {
        const servers = await Promise.allSettled(
          [1, 2, 3].map(async () => {
            const config = settings(database.url!, { DATABASE_TRANSACTION_POOLING: 'true' });
            const running = await startServer(config, createLogger(config.logLevel));
            started.push(running);
            return running;
          }),
        );
        expect(servers.map((s) => (s.status === 'rejected' ? String(s.reason) : 'started'))).toEqual(['started', 'started', 'started']);
        for (const running of started) expect((await http(running.url, 'GET', '/health/ready')).status).toBe(200);
      } finally {
        for (const running of started) await running.stop();
        await database.drop();
      }
    });

    it('refuses a connection that sends a session setting, which DATABASE_TRANSACTION_POOLING avoids', async () => {
      const database = await createTestDatabase();
      try {
        const config = settings(database.url!);
        await expect(startServer(config, createLogger(config.logLevel))).rejects.toThrow(/unsupported startup parameter: statement_timeout/);
      } finally {
        await database.drop();
      }
    });
  });

  await import('./auth.test.ts');
  await import('./agents.test.ts');
  await import('./tasks.test.ts');
  await import('./alerts.test.ts');
  await import('./events-outbox.test.ts');
  await import('./webhook-delivery.test.ts');
}
