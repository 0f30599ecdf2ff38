// Retention, as the background workers apply it: metric samples older than `x-metrics.retention_days`,
// dispatched events older than `x-webhook-delivery.retention_days` (with their deliveries) and task artifacts
// older than `x-artifacts.retention_days` (with their bytes) are deleted; what is younger, and events still
// waiting in the outbox, stay. Read back over HTTP where the API shows it.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policy } from '../../server/contract.ts';
import { OutboxDispatcher } from '../../server/events/dispatcher.ts';
import { localEventBus } from '../../server/events/event-bus.ts';
import { createLogger } from '../../server/logger.ts';
import { applyRetention, retentionOf } from '../../server/workers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http } from '../support/http.ts';
import { enrolAgent } from '../support/agents.ts';

const DAY_MS = 86_400_000;
const log = createLogger('silent');

let server: TestServer;
beforeAll(async () => {
  // Workers off: this test applies retention itself, once.
  server = await startTestServer({ BACKGROUND_WORKERS: 'false' });
});
afterAll(async () => {
  await server?.close();
});

const enrol = () => enrolAgent(server, 'retention');

describe('retention', () => {
  it('takes its periods from the spec', () => {
    const retention = retentionOf(policy<{ retention_days: number }>('x-webhook-delivery').retention_days);
    expect(retention.metricDays).toBe(policy<{ retention_days: number }>('x-metrics').retention_days);
    expect(retention.metricDays).toBeGreaterThan(0);
  });

  it('deletes metric samples and dispatched events past their periods, and keeps the rest', async () => {
    const db = server.database.db;
    const retention = retentionOf(policy<{ retention_days: number }>('x-webhook-delivery').retention_days);
    const { agent, key } = await enrol();
    // A recent sample through the agent protocol; old ones written as if they had been kept since.
    const recentAt = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS);
    expect((await http(server.url, 'POST', '/api/v1/agent/metrics', { headers: { 'x-api-key': key }, json: { samples: [{ name: 'cpu_usage', at: recentAt.toISOString(), value: 42 }] } })).status).toBe(204);
    const oldAt = new Date(recentAt.getTime() - (retention.metricDays + 1) * DAY_MS);
    await db.insertInto('agent_metrics').values({ agent_id: agent.id, name: 'cpu_usage', at: oldAt, value: 7 }).execute();

    // Events: an alert's (dispatched long ago), another alert's (never dispatched, just as old), a fresh one.
    const raise = async (title: string) => (await server.call('POST', '/api/v1/alerts', { json: { title, severity: 'info' } })).body.data.id as string;
    const [oldDispatched, oldWaiting, fresh] = [await raise('old, dispatched'), await raise('old, waiting'), await raise('fresh')];
    const eventOf = sql<string>`data->>'id'`;
    const longAgo = new Date(Date.now() - (retention.eventDays + 1) * DAY_MS);
    await db.updateTable('events').set({ occurred_at: longAgo, dispatched_at: longAgo }).where(eventOf, '=', oldDispatched).execute();
    await db.updateTable('events').set({ occurred_at: longAgo }).where(eventOf, '=', oldWaiting).execute();

    const deleted = await applyRetention(db, new OutboxDispatcher(db, localEventBus(log), log, { pollMs: 1000 }), retention);
    expect(deleted).toEqual({ events: 1, metric_samples: 1, artifacts: 0 });

    // A day on each side of each sample (a range spans at most 31 days).
    const around = async (day: Date) => {
      const range = `start_date=${encodeURIComponent(new Date(day.getTime() - DAY_MS).toISOString())}&end_date=${encodeURIComponent(new Date(day.getTime() + 2 * DAY_MS).toISOString())}`;
      const res = await server.call('GET', `/api/v1/agents/${agent.id}/metrics?name=cpu_usage&bucket=1d&aggregate=max&${range}`);
      expect(res.status, res.text).toBe(200);
      return res.body.data.points as Array<{ at: string; value: number }>;
    };
    expect(await around(oldAt)).toEqual([]);
    expect(await around(recentAt)).toEqual([{ at: recentAt.toISOString(), value: 42, samples: 1 }]);
    const left = (await db.selectFrom('events').select(eventOf.as('about')).where(eventOf, 'in', [oldDispatched, oldWaiting, fresh]).execute()).map((r) => r.about);
    expect(left.sort()).toEqual([oldWaiting, fresh].sort());
  });

  it('deletes task artifacts past their period, with their bytes, and keeps younger ones', async () => {
    const db = server.database.db;
    const retention = retentionOf(policy<{ retention_days: number }>('x-webhook-delivery').retention_days);
    expect(retention.artifactDays).toBe(policy<{ retention_days: number }>('x-artifacts').retention_days);
    const { agent, key } = await enrol();
    const task = (await server.call('POST', `/api/v1/agents/${agent.id}/actions/command`, { json: { command: 'uptime' } })).body.data.task_id as string;
    const upload = async (name: string) => {
      const res = await http(server.url, 'POST', `/api/v1/agent/tasks/${task}/artifacts?name=${name}`, { headers: { 'x-api-key': key, 'content-type': 'text/plain' }, body: `${name}\n` });
      expect(res.status, res.text).toBe(201);
      return res.body.data.id as string;
    };
    const [old, young] = [await upload('old.log'), await upload('young.log')];
    await db.updateTable('task_artifacts').set({ created_at: new Date(Date.now() - (retention.artifactDays + 1) * DAY_MS) }).where('id', '=', old).execute();

    const deleted = await applyRetention(db, new OutboxDispatcher(db, localEventBus(log), log, { pollMs: 1000 }), retention);
    expect(deleted.artifacts).toBe(1);
    const listed = (await server.call('GET', `/api/v1/tasks/${task}/artifacts`)).body.data as Array<{ id: string }>;
    expect(listed.map((a) => a.id)).toEqual([young]);
    expect((await server.call('GET', `/api/v1/tasks/${task}/artifacts/${old}`)).status).toBe(404);
    const chunks = await db.selectFrom('task_artifact_chunks').select('artifact_id').where('artifact_id', 'in', [old, young]).execute();
    expect(chunks.map((c) => c.artifact_id)).toEqual([young]);
  });
});
