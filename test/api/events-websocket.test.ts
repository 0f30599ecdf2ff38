// The live WebSocket (`openEventSocket`) over a real socket, on the real backends: refusals before the upgrade
// are error envelopes; the first message must authenticate (a bad or missing one closes with 4000 + its status);
// `subscribe` is refused channel by channel without the read permission; events raised over HTTP arrive with the
// stream positions of the SSE stream, and `last_event_id` replays what a reconnect missed; a revoked key ends the
// socket; SSE streams and sockets share the caller's slots; a stopping server closes with 1001.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { http } from '../support/http.ts';
import { bearer } from '../support/identity.ts';
import { openStream, streamEventProblems } from '../support/sse.ts';
import { refusedUpgrade, TestSocket } from '../support/websocket.ts';

const AUTH_TIMEOUT_MS = 400;
const MAX_MESSAGE_BYTES = 2048;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    EVENT_STREAM: JSON.stringify({ keepalive_seconds: 0.3, reauthenticate_seconds: 0.2, auth_timeout_seconds: AUTH_TIMEOUT_MS / 1000, max_message_bytes: MAX_MESSAGE_BYTES }),
    OUTBOX_POLL_MS: '50',
  });
});
afterAll(async () => {
  await server?.close();
});

let serial = 0;
const raise = async () => {
  const res = await server.call('POST', '/api/v1/alerts', { json: { title: `Socket alert ${(serial += 1)}`, severity: 'warning' } });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string };
};
const keyWith = async (scopes: string[]) => {
  const res = await server.call('POST', '/api/v1/api-keys', { json: { name: `socket ${scopes.join(' ')} ${(serial += 1)}`, scopes } });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string; secret: string };
};
const open = (token?: string) => TestSocket.open(server.url, token);

describe('before the upgrade', () => {
  it('answers a plain GET (no Upgrade) with a 400 envelope', async () => {
    const res = await http(server.url, 'GET', '/api/v1/events/ws');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toMatch(/^VAL_/);
  });

  it('refuses an upgrade over the rate limit with a 429 envelope, and one to a path without a WebSocket with a 404', async () => {
    const limited = await startTestServer({
      RATE_LIMITS: JSON.stringify({
        tiers: { anonymous: { requests_per_minute: 1, burst: 1 }, ...Object.fromEntries(['authenticated', 'premium', 'admin'].map((tier) => [tier, { requests_per_minute: 600_000, burst: 100_000 }])) },
        limiters: { login: { requests_per_minute: 600_000, burst: 100_000 } },
      }),
    });
    try {
      (await TestSocket.open(limited.url)).close();
      const refused = await refusedUpgrade(limited.url, '/api/v1/events/ws');
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBeTruthy();
      expect(JSON.parse(refused.body).error.code).toBe('RATE_LIMIT_EXCEEDED');
    } finally {
      await limited.close();
    }
    const missing = await refusedUpgrade(server.url, '/api/v1/nothing');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error.code).toBe('RES_NOT_FOUND');
  });

  it('switches protocols with the request id and the rate limit’s headers', async () => {
    const socket = await open();
    try {
      expect(socket.headers['x-request-id']).toMatch(/^req_/);
      expect(socket.headers['x-ratelimit-bucket']).toBeTruthy();
    } finally {
      socket.close();
    }
  });
});

describe('the AsyncAPI document', () => {
  it('is served at /asyncapi.json (and .yaml) naming this server as its WebSocket server', async () => {
    const res = await http(server.url, 'GET', '/asyncapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.body.asyncapi).toBe('3.0.0');
    expect(res.body.servers.development).toMatchObject({ host: new URL(server.url).host, protocol: 'ws' });
    expect(res.body.channels.openEventSocket.address).toBe('/api/v1/events/ws');
    const yaml = await http(server.url, 'GET', '/asyncapi.yaml');
    expect(yaml.status).toBe(200);
    expect(yaml.text).toContain(`host: ${new URL(server.url).host}`);
  });
});

describe('authentication comes first', () => {
  it('refuses a subscribe before auth and closes with 4401', async () => {
    const socket = await open();
    socket.send({ type: 'subscribe', channels: ['alerts'] });
    expect(await socket.closed).toEqual({ code: 4401, reason: 'AUTH_REQUIRED' });
    expect(socket.messages).toEqual([expect.objectContaining({ type: 'error', code: 'AUTH_REQUIRED' })]);
  });

  it('closes with 4401 for a bad token, and 4400 for a first message that is not JSON', async () => {
    const bad = await open();
    bad.send({ type: 'auth', token: 'opk_abcdefgh_not-a-real-key-at-all-000000' });
    expect(await bad.closed).toEqual({ code: 4401, reason: 'AUTH_INVALID_TOKEN' });
    const garbled = await open();
    garbled.send('{not json');
    expect(await garbled.closed).toEqual({ code: 4400, reason: 'VAL_MALFORMED_REQUEST' });
  });

  it('closes with 4401 when no auth comes in time', async () => {
    const socket = await open();
    const started = Date.now();
    expect(await socket.closed).toEqual({ code: 4401, reason: 'AUTH_REQUIRED' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 50);
  });

  it('closes with 4403 for a credential without events:subscribe', async () => {
    const key = await keyWith(['alerts:read']);
    const socket = await open();
    socket.send({ type: 'auth', token: key.secret });
    expect(await socket.closed).toEqual({ code: 4403, reason: 'PERM_DENIED' });
  });

  it('accepts an access token and says which channels it may subscribe to', async () => {
    const socket = await open(server.adminToken);
    try {
      const authenticated = socket.messages[0] as Extract<(typeof socket.messages)[number], { type: 'authenticated' }>;
      expect(authenticated.channels).toEqual(expect.arrayContaining(['tasks', 'alerts', 'agents', 'deployments']));
      expect(Date.parse(authenticated.expires_at!)).toBeGreaterThan(Date.now());
    } finally {
      socket.close();
    }
  });
});

describe('messages after auth', () => {
  it('answers a malformed or unknown message with an error and stays open; ping gets pong', async () => {
    const socket = await open(server.adminToken);
    try {
      socket.send('[1, 2');
      expect(await socket.next('error')).toMatchObject({ code: 'VAL_MALFORMED_REQUEST' });
      socket.send({ type: 'launch', channels: ['alerts'] });
      expect((await socket.next('error')).code).toMatch(/^VAL_/);
      socket.send({ type: 'subscribe', channels: ['rockets'] });
      expect((await socket.next('error')).code).toMatch(/^VAL_/);
      socket.send({ type: 'ping' });
      await socket.next('pong');
      expect(socket.closedWith).toBeUndefined();
    } finally {
      socket.close();
    }
  });

  it('pings every keepalive_seconds, and cuts a client that does not answer', async () => {
    const answering = await open(server.adminToken);
    const silent = await TestSocket.open(server.url, server.adminToken, { autoPong: false });
    try {
      // keepalive_seconds is 0.3: a ping, unanswered until the next one, and the silent client is cut (no close frame: 1006).
      expect((await silent.closed).code).toBe(1006);
      expect(answering.closedWith).toBeUndefined();
    } finally {
      answering.close();
    }
  });

  it('closes with 1009 on a message over max_message_bytes', async () => {
    const socket = await open(server.adminToken);
    socket.send({ type: 'subscribe', channels: ['alerts'], pad: 'x'.repeat(MAX_MESSAGE_BYTES) });
    expect((await socket.closed).code).toBe(1009);
  });
});

describe('events', () => {
  it('delivers an alert raised over HTTP, with the SSE stream’s id and payload; unsubscribe stops them', async () => {
    const socket = await open(server.adminToken);
    const sse = await openStream(server.url, '/api/v1/events?channels=alerts', bearer(server.adminToken));
    try {
      socket.send({ type: 'subscribe', channels: ['alerts'] });
      expect(await socket.next('subscribed')).toEqual({ type: 'subscribed', channels: ['alerts'] });
      const alert = await raise();
      const message = await socket.eventAbout(alert.id);
      expect(message).toMatchObject({ type: 'event', channel: 'alerts', event: 'alert.triggered', data: { event: 'alert.triggered', team_id: server.teamId } });
      expect(streamEventProblems(message.data)).toBe('');
      const streamed = await sse.waitForEvent((m) => (m.payload.data as { id: string }).id === alert.id);
      expect(message.id).toBe(streamed.id);
      expect(message.data).toEqual(streamed.payload);

      socket.send({ type: 'unsubscribe', channels: ['alerts'] });
      expect(await socket.next('unsubscribed')).toEqual({ type: 'unsubscribed', channels: [] });
      const later = await raise();
      await sse.waitForEvent((m) => (m.payload.data as { id: string }).id === later.id);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(socket.events().filter((m) => m.data.data.id === later.id)).toEqual([]);
    } finally {
      socket.close();
      sse.close();
    }
  });

  it('refuses a channel without its read permission, alone', async () => {
    const key = await keyWith(['events:subscribe', 'alerts:read']);
    const socket = await open(key.secret);
    try {
      expect(socket.messages[0]).toMatchObject({ type: 'authenticated', channels: ['alerts'], expires_at: null });
      socket.send({ type: 'subscribe', channels: ['alerts', 'tasks'] });
      expect(await socket.next('error')).toMatchObject({ code: 'PERM_DENIED', channel: 'tasks' });
      expect(await socket.next('subscribed')).toEqual({ type: 'subscribed', channels: ['alerts'] });
      const alert = await raise();
      await socket.eventAbout(alert.id);
    } finally {
      socket.close();
    }
  });

  it('replays what a reconnect missed after last_event_id, then live events, each once', async () => {
    const first = await open(server.adminToken);
    first.send({ type: 'subscribe', channels: ['alerts'] });
    await first.next('subscribed');
    const seen = await raise();
    const last = (await first.eventAbout(seen.id)).id;
    first.terminate();
    await first.closed;

    const missed = [await raise(), await raise()];
    const second = await open(server.adminToken);
    try {
      second.send({ type: 'subscribe', channels: ['alerts'], last_event_id: last });
      for (const alert of missed) await second.eventAbout(alert.id);
      // `subscribed` comes first, then the replay.
      expect(second.messages.map((m) => m.type).slice(0, 3)).toEqual(['authenticated', 'subscribed', 'event']);
      const live = await raise();
      await second.eventAbout(live.id);
      const ids = second.events().map((m) => m.data.data.id);
      expect(ids).toEqual([...missed, live].map((a) => a.id));
      const positions = second.events().map((m) => BigInt(m.id));
      expect(positions.every((p, i) => p > BigInt(last) && (i === 0 || p > positions[i - 1]!))).toBe(true);
    } finally {
      second.close();
    }
  });
});

describe('end conditions and limits', () => {
  it('ends the socket with 4401 once its API key is revoked', async () => {
    const key = await keyWith(['events:subscribe', 'alerts:read']);
    const socket = await open(key.secret);
    socket.send({ type: 'subscribe', channels: ['alerts'] });
    await socket.next('subscribed');
    const revoked = await server.call('DELETE', `/api/v1/api-keys/${key.id}`);
    expect(revoked.status, revoked.text).toBe(204);
    expect(await socket.closed).toEqual({ code: 4401, reason: 'AUTH_INVALID_TOKEN' });
  });

  it('ends the socket with 4401 AUTH_EXPIRED_TOKEN when its credential expires, and says when in authenticated', async () => {
    const expiresAt = new Date(Date.now() + 1500);
    const res = await server.call('POST', '/api/v1/api-keys', { json: { name: `expiring ${(serial += 1)}`, scopes: ['events:subscribe', 'alerts:read'], expires_at: expiresAt.toISOString() } });
    expect(res.status, res.text).toBe(201);
    const socket = await open(res.body.data.secret as string);
    expect(socket.messages[0]).toMatchObject({ type: 'authenticated', expires_at: expiresAt.toISOString() });
    expect(await socket.closed).toEqual({ code: 4401, reason: 'AUTH_EXPIRED_TOKEN' });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime() - 50);
  });

  it('counts SSE streams and sockets together against max_streams_per_caller', async () => {
    const limited = await startTestServer({ EVENT_STREAM: JSON.stringify({ max_streams_per_caller: 2 }) });
    const held: Array<{ close(): void }> = [];
    try {
      const key = (await limited.call('POST', '/api/v1/api-keys', { json: { name: 'slots', scopes: ['events:subscribe', 'alerts:read'] } })).body.data as { secret: string };
      const sse = await openStream(limited.url, '/api/v1/events', { 'x-api-key': key.secret });
      held.push(sse);
      expect(sse.status).toBe(200);
      const socket = await TestSocket.open(limited.url, key.secret);
      const third = await TestSocket.open(limited.url);
      third.send({ type: 'auth', token: key.secret });
      expect(await third.closed).toEqual({ code: 4429, reason: 'RATE_TOO_MANY_STREAMS' });
      const refused = await openStream(limited.url, '/api/v1/events', { 'x-api-key': key.secret });
      expect(refused.status).toBe(429);
      // A socket that closes frees its slot.
      socket.close();
      await socket.closed;
      const again = await openStream(limited.url, '/api/v1/events', { 'x-api-key': key.secret });
      held.push(again);
      expect(again.status).toBe(200);
    } finally {
      for (const conn of held) conn.close();
      await limited.close();
    }
  });

  it('closes with 1001 when the server stops, without holding up the stop', async () => {
    const stopping = await startTestServer({ SHUTDOWN_GRACE_MS: '10000' });
    const socket = await TestSocket.open(stopping.url, stopping.adminToken);
    socket.send({ type: 'subscribe', channels: ['alerts'] });
    await socket.next('subscribed');
    const started = Date.now();
    await stopping.close();
    expect((await socket.closed).code).toBe(1001);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
