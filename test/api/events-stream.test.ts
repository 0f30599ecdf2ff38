// The live event stream (`streamEvents`, Server-Sent Events) over HTTP on the real backends: events arrive
// as they happen, only the caller's teams' and only on channels it may read; refusals are error envelopes
// before any stream starts; a reconnect with Last-Event-ID gets what it missed, then live events; keep-alive
// comments come; a stream ends when its access token expires (the SDK then refreshes and resumes), when its
// credential no longer holds (checked again every `reauthenticate_seconds`), and when the server stops,
// without holding up the stop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpsdeckClient, subscribeEvents, type StreamEvent } from '@opsdeck/sdk';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http, newAgent } from '../support/http.ts';
import { bearer, createOutsider, createUser, login, TEST_ADMIN, type TestUser } from '../support/identity.ts';
import { openStream, streamEventProblems, type StreamMessage } from '../support/sse.ts';

const KEEPALIVE_MS = 200;
const RETRY_MS = 150;
const REAUTHENTICATE_MS = 200;

let server: TestServer;
let outsider: TestUser;
let outsiderTeam: string;

beforeAll(async () => {
  server = await startTestServer({
    EVENT_STREAM: JSON.stringify({ keepalive_seconds: KEEPALIVE_MS / 1000, retry_ms: RETRY_MS, reauthenticate_seconds: REAUTHENTICATE_MS / 1000 }),
    OUTBOX_POLL_MS: '50',
  });
  ({ outsider, outsiderTeam } = await createOutsider(server.url, server.adminToken));
});
afterAll(async () => {
  await server?.close();
});

let serial = 0;
const raise = async (headers: Record<string, string> = bearer(server.adminToken), json: Record<string, unknown> = {}) => {
  const res = await http(server.url, 'POST', '/api/v1/alerts', { headers, json: { title: `Alert ${(serial += 1)}`, severity: 'warning', ...json } });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string; team_id: string; title: string };
};
const asAdmin = bearer;
const stream = (query = '', headers: Record<string, string> = asAdmin(server.adminToken)) => openStream(server.url, `/api/v1/events${query}`, headers);
const about = (id: string) => (m: StreamMessage) => (m.payload.data as { id: string }).id === id;

describe('refusals are error envelopes, before any stream', () => {
  it('401 without credentials', async () => {
    const res = await openStream(server.url);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    expect(res.body.error.code).toBe('AUTH_REQUIRED');
  });

  it('400 for an unknown channel or a malformed Last-Event-ID', async () => {
    expect((await stream('?channels=alerts,rockets')).status).toBe(400);
    expect((await stream('', { ...asAdmin(server.adminToken), 'last-event-id': 'abc' })).status).toBe(400);
    expect((await stream('?last_event_id=-1')).status).toBe(400);
  });
});

describe('live events', () => {
  it('streams an alert raised through the API, with the stream headers, retry and the contract payload', async () => {
    const conn = await stream();
    try {
      expect(conn.status).toBe(200);
      expect(conn.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(conn.headers.get('cache-control')).toBe('no-store');
      expect(conn.headers.get('x-accel-buffering')).toBe('no');
      expect(conn.headers.get('connection')).toBe('close');
      expect(conn.headers.get('x-request-id')).toBeTruthy();
      expect(conn.headers.get('x-ratelimit-limit')).toBeTruthy();
      expect(conn.headers.get('etag')).toBeNull();
      await conn.waitFor(() => conn.retries.length > 0, 2000, 'retry:');
      expect(conn.text.startsWith(`retry: ${RETRY_MS}\n\n`)).toBe(true);

      const alert = await raise();
      const message = await conn.waitForEvent(about(alert.id));
      expect(message.event).toBe('alert.triggered');
      expect(message.id).toMatch(/^[0-9]+$/);
      expect(message.payload).toMatchObject({ event: 'alert.triggered', team_id: server.teamId, data: { id: alert.id, status: 'open', title: alert.title } });
      expect(streamEventProblems(message.payload)).toBe('');
      // The message as the format says: id, event, one data line, a blank line.
      expect(conn.text).toContain(`id: ${message.id}\nevent: alert.triggered\ndata: ${message.data}\n\n`);

      // The next change of the alert comes later in the stream.
      await server.call('POST', `/api/v1/alerts/${alert.id}/acknowledge`);
      const acknowledged = await conn.waitFor(() => conn.messages.find((m) => m.event === 'alert.acknowledged' && about(alert.id)(m)));
      expect(BigInt(acknowledged.id)).toBeGreaterThan(BigInt(message.id));
    } finally {
      conn.close();
    }
  });

  it('sends a keep-alive comment every keepalive_seconds', async () => {
    const conn = await stream();
    try {
      const started = Date.now();
      await conn.waitFor(() => conn.text.split(': keep-alive\n\n').length - 1 >= 3, 3000, 'three keep-alives');
      expect(Date.now() - started).toBeGreaterThanOrEqual(KEEPALIVE_MS * 2);
    } finally {
      conn.close();
    }
  });
});

describe('only the caller’s teams', () => {
  it('does not send another team’s events, and a team_id of another team finds nothing', async () => {
    const mine = await stream();
    const filteredMine = await stream(`?team_id=${server.teamId}`);
    const theirsFiltered = await stream(`?team_id=${outsiderTeam}`);
    const outsiders = await stream('', bearer(outsider.token));
    try {
      const theirs = await raise(bearer(outsider.token));
      const ours = await raise();
      // Ours was dispatched after theirs: once it has arrived, theirs would have too.
      await mine.waitForEvent(about(ours.id));
      await filteredMine.waitForEvent(about(ours.id));
      await outsiders.waitForEvent(about(theirs.id));
      expect(mine.messages.filter(about(theirs.id))).toEqual([]);
      expect(filteredMine.messages.filter(about(theirs.id))).toEqual([]);
      expect(outsiders.messages.filter(about(ours.id))).toEqual([]);
      // The admin is no member of the outsiders' team: filtering by it is an open stream of nothing.
      expect(theirsFiltered.status).toBe(200);
      await theirsFiltered.waitFor(() => theirsFiltered.text.includes(': keep-alive'), 2000, 'a keep-alive');
      expect(theirsFiltered.messages).toEqual([]);
    } finally {
      for (const conn of [mine, filteredMine, theirsFiltered, outsiders]) conn.close();
    }
  });
});

describe('only channels the caller may read', () => {
  const keyWith = async (scopes: string[]) => {
    const res = await server.call('POST', '/api/v1/api-keys', { json: { name: `events ${scopes.join(' ')}`, scopes } });
    expect(res.status, res.text).toBe(201);
    return { 'x-api-key': res.body.data.secret as string };
  };

  it('403 for a channel asked for without its read permission, or without events:subscribe', async () => {
    const alertsOnly = await keyWith(['events:subscribe', 'alerts:read']);
    const refused = await stream('?channels=alerts,tasks', alertsOnly);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('PERM_DENIED');
    expect(refused.body.error.message).toContain('tasks:read');
    const noSubscribe = await stream('', await keyWith(['alerts:read', 'tasks:read']));
    expect(noSubscribe.status).toBe(403);
    expect(noSubscribe.body.error.message).toContain('events:subscribe');
    // Subscribing without any channel's read permission could never receive anything.
    const noChannel = await stream('', await keyWith(['events:subscribe']));
    expect(noChannel.status).toBe(403);
    expect(noChannel.body.error.code).toBe('PERM_DENIED');
  });

  it('by default sends every channel the caller may read, and only those', async () => {
    const alertsOnly = await stream('', await keyWith(['events:subscribe', 'alerts:read']));
    const tasksOnly = await stream('?channels=tasks');
    const both = await stream('?channels=tasks,alerts');
    try {
      const agent = (await server.call('POST', '/api/v1/agents', { json: newAgent({ status: 'online' }) })).body.data;
      const task = (await server.call('POST', `/api/v1/agents/${agent.id}/actions/reboot`, { json: {} })).body.data;
      expect((await server.call('POST', `/api/v1/tasks/${task.task_id}/cancel`)).status).toBe(200);
      const alert = await raise();
      const cancelled = (m: StreamMessage) => m.event === 'task.cancelled' && (m.payload.data as { id: string }).id === task.task_id;
      await both.waitForEvent(about(alert.id));
      await both.waitForEvent(cancelled);
      await tasksOnly.waitForEvent(cancelled);
      await alertsOnly.waitForEvent(about(alert.id));
      expect(alertsOnly.messages.filter(cancelled)).toEqual([]);
      expect(tasksOnly.messages.filter(about(alert.id))).toEqual([]);
      const taskEvent = both.messages.find(cancelled)!;
      expect(taskEvent.payload).toMatchObject({ event: 'task.cancelled', data: { status: 'cancelled' } });
      expect(streamEventProblems(taskEvent.payload)).toBe('');
    } finally {
      for (const conn of [alertsOnly, tasksOnly, both]) conn.close();
    }
  });
});

describe('resuming with Last-Event-ID', () => {
  it('sends the events missed since, in order, then live ones', async () => {
    const first = await stream('?channels=alerts');
    const before = await raise();
    const seen = await first.waitForEvent(about(before.id));
    first.close();

    const missed = [await raise(), await raise(), await raise()];
    // Let the dispatcher give them their positions before the reconnect (the replay reads dispatched events).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const resumed = await stream('?channels=alerts', { ...asAdmin(server.adminToken), 'last-event-id': seen.id });
    try {
      for (const alert of missed) await resumed.waitForEvent(about(alert.id));
      const live = await raise();
      await resumed.waitForEvent(about(live.id));
      const ids = resumed.messages.map((m) => (m.payload.data as { id: string }).id);
      expect(ids).toEqual([...missed.map((a) => a.id), live.id]);
      const positions = resumed.messages.map((m) => BigInt(m.id));
      expect(positions.every((p, i) => p > BigInt(seen.id) && (i === 0 || p > positions[i - 1]!))).toBe(true);
    } finally {
      resumed.close();
    }
  });

  it('takes last_event_id from the query, and the header over the query', async () => {
    const conn = await stream('?channels=alerts');
    const a = await raise();
    const b = await raise();
    const seenA = await conn.waitForEvent(about(a.id));
    await conn.waitForEvent(about(b.id));
    conn.close();
    const byQuery = await stream(`?channels=alerts&last_event_id=${seenA.id}`);
    const headerWins = await stream(`?channels=alerts&last_event_id=0`, { ...asAdmin(server.adminToken), 'last-event-id': seenA.id });
    try {
      await byQuery.waitForEvent(about(b.id));
      await headerWins.waitForEvent(about(b.id));
      // A keep-alive after the replay: nothing before b is coming.
      await headerWins.waitFor(() => headerWins.text.includes(': keep-alive'), 2000, 'a keep-alive');
      expect(byQuery.messages.filter(about(a.id))).toEqual([]);
      expect(headerWins.messages.filter(about(a.id))).toEqual([]);
    } finally {
      byQuery.close();
      headerWins.close();
    }
  });

  it('replays only the caller’s teams and channels', async () => {
    const theirs = await raise(bearer(outsider.token));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const fromStart = await stream('?channels=alerts&last_event_id=0');
    const tasksFromStart = await stream('?channels=tasks&last_event_id=0');
    try {
      const mine = await raise();
      await fromStart.waitForEvent(about(mine.id));
      await tasksFromStart.waitFor(() => tasksFromStart.text.includes(': keep-alive'), 2000, 'a keep-alive');
      expect(fromStart.messages.length).toBeGreaterThan(1);
      expect(fromStart.messages.every((m) => m.payload.team_id === server.teamId && m.event.startsWith('alert.'))).toBe(true);
      expect(fromStart.messages.filter(about(theirs.id))).toEqual([]);
      expect(tasksFromStart.messages.every((m) => m.event.startsWith('task.'))).toBe(true);
    } finally {
      fromStart.close();
      tasksFromStart.close();
    }
  });
});

describe('with the SDK', () => {
  it('subscribeEvents receives typed events and resumes after the connection drops', async () => {
    const client = createOpsdeckClient({ baseUrl: server.url, token: server.adminToken });
    const received: StreamEvent[] = [];
    const titles: string[] = [];
    let opened = 0;
    const subscription = subscribeEvents(client, {
      channels: ['alerts'],
      onOpen: () => void (opened += 1),
      onEvent(event) {
        received.push(event);
        if (event.event === 'alert.triggered') titles.push(event.data.title);
      },
    });
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 5000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      await until(() => opened === 1, 'the connection');
      const first = await raise();
      await until(() => received.some((e) => e.data.id === first.id), 'the first alert');
      // Every open connection drops; the SDK reconnects after `retry:` and resumes after the last id.
      server.server.closeAllConnections();
      const missed = await raise();
      await until(() => opened === 2, 'the reconnection');
      await until(() => received.some((e) => e.data.id === missed.id), 'the missed alert');
      expect(received.filter((e) => e.data.id === first.id)).toHaveLength(1);
      expect(titles).toEqual([first.title, missed.title]);
      expect(subscription.lastEventId).toMatch(/^[0-9]+$/);
    } finally {
      subscription.close();
    }
    await subscription.closed;
  });

  it('ends with a 403 OpsdeckError for a channel the caller may not read', async () => {
    const key = (await server.call('POST', '/api/v1/api-keys', { json: { name: 'sdk alerts only', scopes: ['events:subscribe', 'alerts:read'] } })).body.data.secret;
    const errors: unknown[] = [];
    const subscription = subscribeEvents({ baseUrl: server.url, apiKey: key }, { channels: ['tasks'], onEvent: () => {}, onError: (error) => void errors.push(error) });
    await expect(subscription.closed).rejects.toMatchObject({ name: 'OpsdeckError', status: 403, code: 'PERM_DENIED' });
    expect(errors).toHaveLength(1);
  });
});

describe('a credential that no longer holds', () => {
  it('ends the stream of a revoked API key, a deactivated user and a member who left the team; not one that holds', async () => {
    const key = (await server.call('POST', '/api/v1/api-keys', { json: { name: 'revoked while streaming', scopes: ['events:subscribe', 'alerts:read'] } })).body.data;
    const byKey = await stream('', { 'x-api-key': key.secret });
    const deactivated = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'deactivated-streamer');
    const byUser = await stream('', bearer(deactivated.token));
    const leaver = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'leaving-streamer');
    const byLeaver = await stream('', bearer(leaver.token));
    const holds = await stream();
    for (const open of [byKey, byUser, byLeaver, holds]) expect(open.status).toBe(200);
    try {
      expect((await server.call('DELETE', `/api/v1/api-keys/${key.id}`)).status).toBe(204);
      expect((await server.call('PATCH', `/api/v1/admin/users/${deactivated.id}`, { json: { active: false } })).status).toBe(200);
      expect((await server.call('DELETE', `/api/v1/teams/${server.teamId}/members/${leaver.id}`)).status).toBe(204);
      for (const [open, what] of [
        [byKey, 'the revoked key'],
        [byUser, 'the deactivated user'],
        [byLeaver, 'the member who left'],
      ] as const) {
        await open.waitFor(() => open.ended, 5 * REAUTHENTICATE_MS + 2000, `the end of the stream of ${what}`);
      }
      // Several checks later, a credential that still holds keeps its stream.
      await new Promise((resolve) => setTimeout(resolve, 3 * REAUTHENTICATE_MS));
      expect(holds.ended).toBe(false);
    } finally {
      for (const open of [byKey, byUser, byLeaver, holds]) open.close();
    }
  });
});

describe('streams per caller', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ EVENT_STREAM: JSON.stringify({ max_streams_per_caller: 2 }) });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('refuses one more than max_streams_per_caller with 429 RATE_TOO_MANY_STREAMS, per user or API key, until one closes', async () => {
    const key = (await limited.call('POST', '/api/v1/api-keys', { json: { name: 'streams', scopes: ['events:subscribe', 'alerts:read'] } })).body.data;
    const asKey = { 'x-api-key': key.secret as string };
    const open = (headers: Record<string, string>) => openStream(limited.url, '/api/v1/events', headers);
    const first = await open(asKey);
    const second = await open(asKey);
    const user = await open(bearer(limited.adminToken)); // the key's owner counts apart from its key
    try {
      expect([first.status, second.status, user.status]).toEqual([200, 200, 200]);
      const third = await open(asKey);
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('RATE_TOO_MANY_STREAMS');
      expect(third.headers.get('retry-after')).not.toBeNull();
      first.close();
      // The server frees the slot when it sees the connection close.
      const deadline = Date.now() + 5000;
      let again = await open(asKey);
      while (again.status === 429 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        again = await open(asKey);
      }
      expect(again.status).toBe(200);
      again.close();
    } finally {
      for (const stream of [first, second, user]) stream.close();
    }
  });
});

describe('a stream’s end', () => {
  let short: TestServer;
  let closed = false;
  beforeAll(async () => {
    // A long grace period: a stop that waited for the open streams would show.
    short = await startTestServer({ ACCESS_TOKEN_TTL_SECONDS: '10', EVENT_STREAM: JSON.stringify({ keepalive_seconds: 1, retry_ms: 100 }), OUTBOX_POLL_MS: '50', SHUTDOWN_GRACE_MS: '10000' });
  });
  afterAll(async () => {
    if (!closed) await short?.close();
  });

  it('comes when the access token expires; the SDK refreshes the token and resumes', async () => {
    const client = createOpsdeckClient({ baseUrl: short.url });
    const pair = await client.login(TEST_ADMIN.email, TEST_ADMIN.password);
    const raw = await openStream(short.url, '/api/v1/events', bearer(pair.access_token));
    const received: string[] = [];
    let opened = 0;
    const subscription = subscribeEvents(client, { onOpen: () => void (opened += 1), onEvent: (event) => void received.push(event.data.id) });
    try {
      await raw.waitFor(() => raw.ended, 14_000, 'the end of the stream at the token’s expiry');
      // The SDK's first stream ended at the same time; its reconnect met 401 AUTH_EXPIRED_TOKEN, refreshed, and resumed.
      const deadline = Date.now() + 5000;
      while (opened < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(opened).toBe(2);
      expect(client.session.accessToken).not.toBe(pair.access_token);
      const alert = (await http(short.url, 'POST', '/api/v1/alerts', { headers: bearer(client.session.accessToken!), json: { title: 'after refresh', severity: 'info' } })).body.data;
      while (!received.includes(alert.id) && Date.now() < deadline + 5000) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received).toContain(alert.id);
    } finally {
      subscription.close();
      raw.close();
    }
  }, 30_000);

  it('comes when the server stops, which is not held up by open streams', async () => {
    const token = (await login(short.url, TEST_ADMIN.email, TEST_ADMIN.password)).access_token;
    const conns = await Promise.all([1, 2, 3].map(() => openStream(short.url, '/api/v1/events', bearer(token))));
    for (const conn of conns) await conn.waitFor(() => conn.retries.length > 0, 2000, 'retry:');
    const started = Date.now();
    closed = true;
    const stopping = short.close();
    await Promise.all(conns.map((conn) => conn.closed));
    expect(Date.now() - started).toBeLessThan(2000);
    await stopping;
    // The grace period is 10 s: the stop did not wait for the streams.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
