// Webhooks over HTTP, on a server that keeps the default rules (private targets refused): registering,
// reading, listing, changing and deleting webhooks; the secret shown once and stored encrypted; targets
// refused at registration (422) and again at delivery time; If-Match; team scope and permissions.
// The server runs without background workers, so nothing is ever sent to the public address the
// webhooks here are registered with; the one test that needs a deliverer runs its own.
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSecretBox } from '../../server/auth/secret-box.ts';
import { createLogger } from '../../server/logger.ts';
import { WebhookDeliverer } from '../../server/modules/webhooks/webhooks.deliverer.ts';
import { deliveryPolicy } from '../../server/modules/webhooks/webhooks.policy.ts';
import { claimDue } from '../../server/modules/webhooks/webhooks.repository.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http } from '../support/http.ts';
import { bearer, createOutsider, createUser, type TestUser } from '../support/identity.ts';
import { eventually, sleep, startReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

let server: TestServer;
let receiver: WebhookReceiver;
let outsider: TestUser;

// A public address, so registration needs no DNS.
const PUBLIC_URL = 'https://93.184.215.14/hooks/opsdeck';

beforeAll(async () => {
  server = await startTestServer({ BACKGROUND_WORKERS: 'false' });
  receiver = await startReceiver();
  ({ outsider } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

const register = async (json: Record<string, unknown> = {}) => {
  const res = await server.call('POST', '/api/v1/webhooks', { json: { url: PUBLIC_URL, events: ['alert.triggered'], ...json } });
  expect(res.status, res.text).toBe(201);
  return res.body.data;
};
const asOutsider = (method: string, path: string, json?: unknown) => http(server.url, method, path, { headers: bearer(outsider.token), json });

describe('registering and reading', () => {
  it('registers a webhook (201 + Location) and shows its generated secret this once only', async () => {
    const created = await server.call('POST', '/api/v1/webhooks', {
      json: { url: PUBLIC_URL, events: ['alert.triggered', 'task.failed'], description: 'On-call bridge' },
    });
    expect(created.status).toBe(201);
    const webhook = created.body.data;
    expect(created.headers.get('location')).toBe(`/api/v1/webhooks/${webhook.id}`);
    expect(webhook).toMatchObject({
      team_id: server.teamId,
      url: PUBLIC_URL,
      events: ['alert.triggered', 'task.failed'],
      description: 'On-call bridge',
      active: true,
      disabled_reason: null,
      disabled_at: null,
      consecutive_failures: 0,
      last_delivery_at: null,
    });
    expect(webhook.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(webhook.secret_hint).toBe(`…${webhook.secret.slice(-4)}`);

    const fetched = await server.call('GET', `/api/v1/webhooks/${webhook.id}`);
    expect(fetched.status).toBe(200);
    const { secret: _secret, ...withoutSecret } = webhook;
    expect(fetched.body.data).toEqual(withoutSecret);
    expect(fetched.text).not.toContain(webhook.secret);
    const listed = await server.call('GET', '/api/v1/webhooks?limit=100');
    expect(listed.body.data.find((w: { id: string }) => w.id === webhook.id)).toEqual(withoutSecret);
    expect(listed.text).not.toContain(webhook.secret);
    const patched = await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { description: 'Renamed' } });
    expect(patched.status).toBe(200);
    expect(patched.body.data).not.toHaveProperty('secret');
    expect(patched.text).not.toContain(webhook.secret);
  });

  it('takes the caller’s own secret, and stores only its ciphertext and hint', async () => {
    const secret = `mine-${randomUUID()}`;
    const webhook = await register({ secret });
    expect(webhook.secret).toBe(secret);
    expect(webhook.secret_hint).toBe(`…${secret.slice(-4)}`);
    const row = await server.database.db.selectFrom('webhooks').select(['secret_ciphertext', 'secret_hint']).where('id', '=', webhook.id).executeTakeFirstOrThrow();
    expect(row.secret_ciphertext).toMatch(/^v1\./);
    expect(row.secret_ciphertext).not.toContain(secret);
    expect(row.secret_hint).toBe(webhook.secret_hint);
    // Without SECRETS_KEY the key is generated once and kept, so a restarted server still reads it.
    const key = await server.database.db.selectFrom('instance_keys').select(['name']).execute();
    expect(key.map((k) => k.name)).toEqual(['secrets']);
  });

  it('rotates the secret with a PATCH, which never shows it', async () => {
    const webhook = await register();
    const rotated = await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { secret: 'a-new-secret-of-24-chars-or-more' } });
    expect(rotated.status).toBe(200);
    expect(rotated.body.data.secret_hint).toBe('…more');
    expect(rotated.text).not.toContain('a-new-secret-of-24-chars-or-more');
  });

  it('refuses invalid bodies with 422: no events, unknown event types, a short secret', async () => {
    for (const json of [
      { url: PUBLIC_URL, events: [] },
      { url: PUBLIC_URL, events: ['alert.exploded'] },
      { url: PUBLIC_URL, events: ['webhook.ping'] },
      { url: PUBLIC_URL, events: ['alert.triggered'], secret: 'short' },
      { url: 'ftp://93.184.215.14/x', events: ['alert.triggered'] },
    ]) {
      const res = await server.call('POST', '/api/v1/webhooks', { json });
      expect(res.status, JSON.stringify(json)).toBe(422);
    }
  });
});

describe('targets (SSRF)', () => {
  it.each([
    'http://localhost:8080/hook',
    'http://127.0.0.1/hook',
    'http://[::1]:8080/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://10.0.0.5/hook',
    'http://192.168.1.10/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://100.64.1.1/hook',
    'http://0.0.0.0/hook',
    'http://2130706433/hook',
    'https://no-such-host.invalid/hook',
  ])('refuses %s at registration with 422 VAL_WEBHOOK_TARGET_FORBIDDEN', async (url) => {
    const res = await server.call('POST', '/api/v1/webhooks', { json: { url, events: ['alert.triggered'] } });
    expect(res.status, res.text).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'VAL_WEBHOOK_TARGET_FORBIDDEN', details: [{ field: 'url', value: url }] });
  });

  it('refuses a private target on update too, and changes nothing', async () => {
    const webhook = await register();
    const res = await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { url: `${receiver.url}/patched` } });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('VAL_WEBHOOK_TARGET_FORBIDDEN');
    expect((await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).body.data.url).toBe(PUBLIC_URL);
  });

  it('checks again at every attempt: a target that turned private is refused, recorded, and never reached', async () => {
    const webhook = await register();
    // As if its DNS changed after registration: the host now resolves to loopback.
    const path = `/rebound-${randomUUID()}`;
    const rebound = receiver.url.replace('127.0.0.1', 'localhost') + path;
    await server.database.db.updateTable('webhooks').set({ url: rebound }).where('id', '=', webhook.id).execute();
    const ping = await server.call('POST', `/api/v1/webhooks/${webhook.id}/ping`);
    expect(ping.status).toBe(202);
    // The deliverer a server with workers runs, with the default rules (the secret box is the server's own:
    // its key is kept in the database).
    const log = createLogger('silent');
    const deliverer = new WebhookDeliverer(server.database.db, await openSecretBox(server.database.db, undefined, log), log, {
      policy: deliveryPolicy(),
      allowPrivateTargets: false,
      pollMs: 50,
    });
    deliverer.start();
    const attempt = await eventually(async () => {
      const detail = (await server.call('GET', ping.headers.get('location')!)).body.data;
      return detail.attempts[0];
    }, 10_000, 'the first attempt').finally(() => deliverer.stop());
    expect(attempt).toMatchObject({ number: 1, status_code: null, succeeded: false, response_excerpt: null });
    expect(attempt.error).toMatch(/^target refused: localhost resolves to .*loopback/);
    const after = (await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).body.data;
    expect(after).toMatchObject({ consecutive_failures: 1, active: true });
    expect(after.last_delivery_at).toMatch(/Z$/);
    expect(receiver.received(path)).toEqual([]);
  });
});

describe('changing, turning off and on, deleting', () => {
  it('merges a patch, and turning it on clears the reason and the failures', async () => {
    const webhook = await register({ description: 'before' });
    const patched = await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { events: ['alert.resolved', 'deployment.finished'], description: null } });
    expect(patched.body.data).toMatchObject({ events: ['alert.resolved', 'deployment.finished'], description: null, url: PUBLIC_URL, active: true });
    expect(Date.parse(patched.body.data.updated_at)).toBeGreaterThanOrEqual(Date.parse(webhook.updated_at));

    const off = await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { active: false } });
    expect(off.body.data).toMatchObject({ active: false, disabled_reason: expect.stringContaining('turned off by') });
    expect(off.body.data.disabled_at).toMatch(/Z$/);
    const ping = await server.call('POST', `/api/v1/webhooks/${webhook.id}/ping`);
    expect(ping.status).toBe(409);
    expect(ping.body.error.code).toBe('BIZ_WEBHOOK_DISABLED');
    expect((await server.call('GET', `/api/v1/webhooks?active=false&limit=100`)).body.data.map((w: { id: string }) => w.id)).toContain(webhook.id);

    await server.database.db.updateTable('webhooks').set({ consecutive_failures: 7 }).where('id', '=', webhook.id).execute();
    const on = await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { active: true } });
    expect(on.body.data).toMatchObject({ active: true, disabled_reason: null, disabled_at: null, consecutive_failures: 0 });
  });

  it('fails what is pending when turned off; redelivers once on again; lists deliveries by status and event', async () => {
    const webhook = await register();
    const first = await server.call('POST', `/api/v1/webhooks/${webhook.id}/ping`);
    expect(first.status).toBe(202);
    expect(first.headers.get('location')).toBe(`/api/v1/webhooks/${webhook.id}/deliveries/${first.body.data.id}`);
    expect(first.body.data).toMatchObject({ webhook_id: webhook.id, event: 'webhook.ping', status: 'pending', attempt_count: 0, redelivery_of: null, completed_at: null });
    expect(first.body.data.next_attempt_at).toMatch(/Z$/);
    // The ping's event is recorded already dispatched and never streamed.
    const event = await server.database.db.selectFrom('events').select(['channel', 'dispatched_at', 'seq', 'team_id']).where('id', '=', first.body.data.event_id).executeTakeFirstOrThrow();
    expect(event).toMatchObject({ channel: null, seq: null, team_id: server.teamId });
    expect(event.dispatched_at).toBeInstanceOf(Date);

    await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { active: false } });
    const failed = (await server.call('GET', first.headers.get('location')!)).body.data;
    expect(failed).toMatchObject({ status: 'failed', next_attempt_at: null, attempts: [] });
    expect(failed.completed_at).toMatch(/Z$/);
    const refused = await server.call('POST', `/api/v1/webhooks/${webhook.id}/deliveries/${failed.id}/redeliver`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('BIZ_WEBHOOK_DISABLED');

    await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { active: true } });
    const again = await server.call('POST', `/api/v1/webhooks/${webhook.id}/deliveries/${failed.id}/redeliver`);
    expect(again.status).toBe(202);
    expect(again.body.data).toMatchObject({ event_id: failed.event_id, event: 'webhook.ping', status: 'pending', redelivery_of: failed.id });
    expect(again.body.data.id).not.toBe(failed.id);
    expect(again.headers.get('location')).toBe(`/api/v1/webhooks/${webhook.id}/deliveries/${again.body.data.id}`);
    const detail = (await server.call('GET', again.headers.get('location')!)).body.data;
    expect(detail.payload).toEqual({
      id: failed.event_id,
      event: 'webhook.ping',
      timestamp: expect.stringMatching(/Z$/),
      team_id: server.teamId,
      data: { webhook_id: webhook.id, message: expect.stringContaining('Ping from Opsdeck') },
    });

    const list = (query: string) => server.call('GET', `/api/v1/webhooks/${webhook.id}/deliveries${query}`).then((r) => r.body.data.map((d: { id: string }) => d.id));
    expect(await list('')).toEqual([again.body.data.id, failed.id]);
    expect(await list('?sort=created_at:asc')).toEqual([failed.id, again.body.data.id]);
    expect(await list('?status=failed')).toEqual([failed.id]);
    expect(await list('?status=pending&event=webhook.ping')).toEqual([again.body.data.id]);
    expect(await list('?event=alert.triggered')).toEqual([]);
    expect(await list('?status=succeeded')).toEqual([]);
    const paged = await server.call('GET', `/api/v1/webhooks/${webhook.id}/deliveries?limit=1&cursor=`);
    expect(paged.body.data).toHaveLength(1);
    expect(paged.body.pagination.next_cursor).toBeTruthy();
    const missing = await server.call('GET', `/api/v1/webhooks/${webhook.id}/deliveries/${randomUUID()}`);
    expect(missing.status).toBe(404);
  });

  it('honours If-Match on PATCH and DELETE (412 for a stale version)', async () => {
    const webhook = await register();
    const etag = (await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).headers.get('etag')!;
    expect(etag).toBeTruthy();
    const first = await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { description: 'first' }, headers: { 'if-match': etag } });
    expect(first.status).toBe(200);
    const stale = await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { description: 'second' }, headers: { 'if-match': etag } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('RES_PRECONDITION_FAILED');
    expect((await server.call('DELETE', `/api/v1/webhooks/${webhook.id}`, { headers: { 'if-match': etag } })).status).toBe(412);
    const fresh = (await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).headers.get('etag')!;
    expect((await server.call('DELETE', `/api/v1/webhooks/${webhook.id}`, { headers: { 'if-match': fresh } })).status).toBe(204);
  });

  it('deletes a webhook with its deliveries (204), after which both are 404', async () => {
    const webhook = await register();
    await server.call('PATCH', `/api/v1/webhooks/${webhook.id}`, { json: { url: PUBLIC_URL.replace('/hooks/opsdeck', '/other') } });
    const ping = await server.call('POST', `/api/v1/webhooks/${webhook.id}/ping`);
    expect(ping.status).toBe(202);
    expect((await server.call('DELETE', `/api/v1/webhooks/${webhook.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).status).toBe(404);
    expect((await server.call('GET', ping.headers.get('location')!)).status).toBe(404);
    const left = await server.database.db.selectFrom('webhook_deliveries').select('id').where('webhook_id', '=', webhook.id).execute();
    expect(left).toEqual([]);
  });
});

describe('lists', () => {
  it('sorts, pages by offset and by cursor, and filters by team and state', async () => {
    const made = [];
    for (let i = 0; i < 3; i += 1) made.push(await register({ description: `list ${i}` }));
    await sleep(5);
    await server.call('PATCH', `/api/v1/webhooks/${made[0].id}`, { json: { description: 'touched last' } });
    const newest = await server.call('GET', '/api/v1/webhooks?limit=2');
    expect(newest.body.pagination).toMatchObject({ mode: 'offset', per_page: 2, has_next: true });
    expect(newest.body.data.map((w: { id: string }) => w.id)).toEqual([made[2].id, made[1].id]);
    expect(newest.headers.get('link')).toContain('rel="next"');
    const touched = await server.call('GET', '/api/v1/webhooks?limit=1&sort=updated_at:desc');
    expect(touched.body.data[0].id).toBe(made[0].id);
    const seen: string[] = [];
    let cursor = '';
    for (;;) {
      const page = await server.call('GET', `/api/v1/webhooks?limit=2&sort=created_at:asc&team_id=${server.teamId}&cursor=${cursor}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((w: { id: string }) => w.id));
      if (!page.body.pagination.next_cursor) break;
      cursor = page.body.pagination.next_cursor;
    }
    const all = (await server.call('GET', '/api/v1/webhooks?limit=100&sort=created_at:asc')).body.data.map((w: { id: string }) => w.id);
    expect(seen).toEqual(all);
    expect((await server.call('GET', '/api/v1/webhooks?sort=url:asc')).status).toBe(400);
  });
});

describe('team scope and permissions', () => {
  it('answers 404 for another team’s webhook and its deliveries, as for missing ones, and changes nothing', async () => {
    const webhook = await register();
    const delivery = (await server.call('POST', `/api/v1/webhooks/${webhook.id}/ping`)).body.data;
    const base = `/api/v1/webhooks/${webhook.id}`;
    const tries: Array<[string, string, unknown?]> = [
      ['GET', base],
      ['PATCH', base, { description: 'taken over' }],
      ['DELETE', base],
      ['POST', `${base}/ping`],
      ['GET', `${base}/deliveries`],
      ['GET', `${base}/deliveries/${delivery.id}`],
      ['POST', `${base}/deliveries/${delivery.id}/redeliver`],
    ];
    for (const [method, path, json] of tries) {
      const theirs = await asOutsider(method, path, json);
      expect(theirs.status, `${method} ${path}`).toBe(404);
      expect(theirs.body.error.code).toBe('RES_NOT_FOUND');
      const missing = await asOutsider(method, path.replace(webhook.id, randomUUID()), json);
      expect(missing.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID')).toBe(theirs.body.error.message.replace(/[0-9a-f-]{36}/g, 'ID'));
    }
    // Another team's webhook cannot reach this one's delivery either.
    const own = (await asOutsider('POST', '/api/v1/webhooks', { url: PUBLIC_URL, events: ['alert.triggered'] })).body.data;
    expect((await asOutsider('GET', `/api/v1/webhooks/${own.id}/deliveries/${delivery.id}`)).status).toBe(404);
    expect((await asOutsider('POST', `/api/v1/webhooks/${own.id}/deliveries/${delivery.id}/redeliver`)).status).toBe(404);
    const listed = await asOutsider('GET', `/api/v1/webhooks?limit=100`);
    expect(listed.body.data.map((w: { id: string }) => w.id)).toEqual([own.id]);
    expect((await asOutsider('GET', `/api/v1/webhooks?team_id=${server.teamId}`)).body.data).toEqual([]);
    expect((await asOutsider('POST', '/api/v1/webhooks', { url: PUBLIC_URL, events: ['alert.triggered'], team_id: server.teamId })).status).toBe(404);
    const { secret: _secret, ...unchanged } = webhook;
    expect((await server.call('GET', base)).body.data).toEqual(unchanged);
    expect((await server.call('GET', `${base}/deliveries`)).body.data.map((d: { id: string }) => d.id)).toEqual([delivery.id]);
  });

  it('lets a viewer do nothing with webhooks (no webhooks:read), and an operator everything', async () => {
    const viewer = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'viewer');
    const webhook = await register();
    for (const [method, path, json] of [
      ['GET', '/api/v1/webhooks'],
      ['GET', `/api/v1/webhooks/${webhook.id}`],
      ['POST', '/api/v1/webhooks', { url: PUBLIC_URL, events: ['alert.triggered'] }],
      ['POST', `/api/v1/webhooks/${webhook.id}/ping`],
    ] as const) {
      const denied = await http(server.url, method, path, { headers: bearer(viewer.token), json });
      expect(denied.status, `${method} ${path}`).toBe(403);
      expect(denied.body.error.code).toBe('PERM_DENIED');
    }
    const operator = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'operator');
    expect((await http(server.url, 'GET', `/api/v1/webhooks/${webhook.id}`, { headers: bearer(operator.token) })).status).toBe(200);
    expect((await http(server.url, 'PATCH', `/api/v1/webhooks/${webhook.id}`, { headers: bearer(operator.token), json: { description: 'operator' } })).status).toBe(200);
  });
});

describe('claiming deliveries (the deliverer’s lease)', () => {
  it('hands 300 due deliveries to 8 racing claimers with none twice and none lost', async (ctx) => {
    if (!server.testDatabase.url) return ctx.skip('needs a real PostgreSQL for row locks across connections');
    const db = server.database.db;
    const webhook = await register();
    // 300 deliveries of one ping's event, all due.
    const ping = (await server.call('POST', `/api/v1/webhooks/${webhook.id}/ping`)).body.data;
    const event = { id: ping.event_id as string, type: 'webhook.ping' };
    const queued = Array.from({ length: 300 }, () => uuidv7());
    await db
      .insertInto('webhook_deliveries')
      .values(queued.map((id) => ({ id, webhook_id: webhook.id, event_id: event.id, event: event.type, next_attempt_at: new Date(Date.now() - 1000) })))
      .execute();
    const claimed: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (;;) {
          const batch = await claimDue(db, { limit: 7, perWebhook: 1000, room: new Map() }, 60);
          if (batch.length === 0) return;
          claimed.push(...batch.map((c) => c.id).filter((id) => queued.includes(id)));
        }
      }),
    );
    expect(claimed.length).toBe(300);
    expect(new Set(claimed).size).toBe(300);
  });

  it('leases what it claims: not claimed again until the lease ends, as when its worker died mid-attempt', async () => {
    const db = server.database.db;
    const webhook = await register();
    const pinged = [];
    for (let i = 0; i < 6; i += 1) pinged.push((await server.call('POST', `/api/v1/webhooks/${webhook.id}/ping`)).body.data.id as string);
    const upTo = (limit: number, perWebhook = 100, room: ReadonlyMap<string, number> = new Map()) => ({ limit, perWebhook, room });
    // A worker takes no more of one webhook than it has room for: none while its slots are full, else up to perWebhook.
    const ofThisWebhook = <T extends { webhook_id: string | null }>(claimed: T[]) => claimed.filter((c) => c.webhook_id === webhook.id);
    expect(ofThisWebhook(await claimDue(db, upTo(100, 2, new Map([[webhook.id, 0]])), 60))).toEqual([]);
    const two = ofThisWebhook(await claimDue(db, upTo(100, 2), 60));
    expect(two.map((c) => c.webhook_id)).toEqual([webhook.id, webhook.id]);
    await db.updateTable('webhook_deliveries').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('id', 'in', two.map((c) => c.id)).execute();
    // Two workers claiming at once take different deliveries (SKIP LOCKED).
    const [a, b] = await Promise.all([claimDue(db, upTo(3), 60), claimDue(db, upTo(100), 60)]);
    const ids = [...a, ...b].map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(pinged));
    const leased = await db.selectFrom('webhook_deliveries').select(['id', 'status', 'next_attempt_at']).where('id', 'in', pinged).execute();
    for (const row of leased) {
      expect(row.status).toBe('pending');
      expect(row.next_attempt_at!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    }
    expect((await claimDue(db, upTo(100), 60)).map((c) => c.id)).toEqual([]);
    // The lease of one runs out (its worker never came back): it is due again, and claimed again.
    await db.updateTable('webhook_deliveries').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('id', '=', pinged[0]!).execute();
    expect((await claimDue(db, upTo(100), 60)).map((c) => c.id)).toEqual([pinged[0]]);
  });
});
