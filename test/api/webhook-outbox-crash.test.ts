// The outbox's promise: a change that was answered has its event, and its webhook delivery goes out, even
// when the server dies right after. A server runs as a child process without background workers (so it
// cannot deliver), takes a webhook and an alert, and is killed with SIGKILL; a second server on the same
// database, with workers, then delivers the signed `alert.triggered` for that alert, and its notification to a
// Slack channel. The two share SECRETS_KEY, as the processes of one deployment do, so the second can sign with
// the first's secret and open the Slack URL it sealed.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { createTestDatabase, testRedis, type TestDatabase } from '../support/backends.ts';
import { http } from '../support/http.ts';
import { bearer, createTeam, login, TEST_ADMIN } from '../support/identity.ts';
import { startChildServer } from '../support/child-server.ts';
import { dropKeys } from '../support/server.ts';
import { signatureValid, sleep, startReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const SECRETS_KEY = randomBytes(32).toString('hex');

let database: TestDatabase;
let redisUrl: string | undefined;
const redisKeyPrefix = `opsdeck-test:${process.pid}:crash-${randomBytes(3).toString('hex')}:`;
let receiver: WebhookReceiver;
let child: ChildProcess | undefined;
let second: RunningServer | undefined;

/** Common settings of both servers: one database, one Redis prefix, one secrets key. */
function env(extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: database.url!,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    REDIS_KEY_PREFIX: redisKeyPrefix,
    OPSDECK_ADMIN_EMAIL: TEST_ADMIN.email,
    OPSDECK_ADMIN_PASSWORD: TEST_ADMIN.password,
    OPSDECK_DEMO_DATA: 'false',
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    SECRETS_KEY,
    ...extra,
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  redisUrl = await testRedis();
  receiver = await startReceiver();
});
afterAll(async () => {
  child?.kill('SIGKILL');
  if (second?.redis?.status === 'ready') await dropKeys(second.redis, redisKeyPrefix);
  await second?.stop();
  await receiver?.close();
  await database?.drop();
});

describe('the outbox survives a crash', () => {
  it(
    'delivers the alert.triggered of an alert raised just before the server was killed',
    async (context) => {
      // Two processes share the database: that takes PostgreSQL (the embedded PGlite lives in one process).
      if (!database.url) context.skip();

      // 1. A server that cannot deliver takes a webhook and an alert, and is killed.
      const first = await startChildServer(env({ BACKGROUND_WORKERS: 'false' }));
      child = first.process;
      const token = (await login(first.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
      const teamId = await createTeam(first.url, token, 'Crash test');
      const path = '/crash';
      const registered = await http(first.url, 'POST', '/api/v1/webhooks', {
        headers: bearer(token),
        json: { url: `${receiver.url}${path}`, events: ['alert.triggered'], team_id: teamId },
      });
      expect(registered.status, registered.text).toBe(201);
      const secret: string = registered.body.data.secret;
      // A Slack channel too: its notification is queued by the same dispatch, from the same event.
      const slackPath = '/crash-slack';
      const channel = await http(first.url, 'POST', '/api/v1/metrics/alerts/notifications', {
        headers: bearer(token),
        json: { name: 'crash', kind: 'slack', slack_url: `${receiver.url}${slackPath}`, team_id: teamId },
      });
      expect(channel.status, channel.text).toBe(201);
      const raised = await http(first.url, 'POST', '/api/v1/alerts', { headers: bearer(token), json: { title: 'Raised just before the crash', severity: 'critical', team_id: teamId } });
      expect(raised.status, raised.text).toBe(201);
      const alert = raised.body.data;
      first.process.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');

      // The event is in the outbox, not dispatched; nothing was sent.
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ type: string; dispatched_at: Date | null }>(`select type, dispatched_at from events where data->>'id' = $1`, [alert.id]);
        expect(rows).toEqual([{ type: 'alert.triggered', dispatched_at: null }]);
      } finally {
        await client.end();
      }
      await sleep(300);
      expect(receiver.requests).toEqual([]);

      // 2. Another server on the same database, with workers, delivers it.
      const config = loadConfig(env({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', BACKGROUND_WORKERS: 'true' }));
      second = await startServer(config, createLogger(config.logLevel));
      const [request] = await receiver.waitFor(path, 1, 10_000);
      expect(request!.headers['x-opsdeck-event']).toBe('alert.triggered');
      expect(await signatureValid(secret, request!)).toBe(true);
      const body = JSON.parse(request!.body);
      expect(body).toMatchObject({ event: 'alert.triggered', team_id: teamId, data: { id: alert.id, title: 'Raised just before the crash', status: 'open' } });

      const [notified] = await receiver.waitFor(slackPath, 1, 10_000);
      expect(JSON.parse(notified!.body).text).toContain('[FIRING] [CRITICAL] Raised just before the crash');

      // Delivered once, and recorded as delivered.
      await sleep(300);
      expect(receiver.received(path)).toHaveLength(1);
      expect(receiver.received(slackPath)).toHaveLength(1);
      const secondToken = (await login(second.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
      const deliveries = await http(second.url, 'GET', `/api/v1/webhooks/${registered.body.data.id}/deliveries`, { headers: bearer(secondToken) });
      expect(deliveries.body.data).toMatchObject([{ id: request!.headers['x-opsdeck-delivery'], event_id: body.id, status: 'succeeded', attempt_count: 1 }]);
    },
    30_000,
  );
});
