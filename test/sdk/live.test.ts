// connectLive, the SDK's client of the live WebSocket, with Node's global WebSocket against a real server (through
// a TCP proxy the test can cut): typed events of the channels asked for; a channel without permission refused
// alone; after a dropped connection it reconnects by itself, authenticates again (asking `token` again) and
// resumes with last_event_id, so the events raised meanwhile arrive, each once, in order; a bad credential ends it.
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { connectLive, LiveError, type EventChannel, type StreamEvent } from '@opsdeck/sdk';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

let server: TestServer;
let proxy: TcpProxy;
let baseUrl: string;

beforeAll(async () => {
  server = await startTestServer({ OUTBOX_POLL_MS: '50' });
  const { hostname, port } = new URL(server.url);
  proxy = await startTcpProxy(hostname, Number(port));
  baseUrl = `http://127.0.0.1:${proxy.port}`;
});
afterAll(async () => {
  await proxy?.close();
  await server?.close();
});

let serial = 0;
const raise = async () => {
  const res = await server.call('POST', '/api/v1/alerts', { json: { title: `Live alert ${(serial += 1)}`, severity: 'critical' } });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: string };
};
async function until(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('connectLive', () => {
  it('receives typed events, and after a dropped connection resumes with what it missed, each once, in order', async () => {
    const received: Array<{ event: StreamEvent; id: string; channel: EventChannel }> = [];
    const errors: Array<{ error: LiveError; retry: boolean }> = [];
    let tokens = 0;
    let opened = 0;
    const live = connectLive({
      baseUrl,
      token: () => ((tokens += 1), server.adminToken),
      channels: ['alerts'],
      minRetryDelayMs: 50,
      onOpen: (authenticated) => {
        opened += 1;
        expect(authenticated.channels).toContain('alerts');
      },
      onEvent: (event, message) => {
        expectTypeOf(event).toEqualTypeOf<StreamEvent>();
        received.push({ event, ...message });
      },
      onError: (error, reconnect) => void errors.push({ error, retry: reconnect !== undefined }),
    });
    try {
      await until(() => live.channels.includes('alerts'), 'the subscription');
      const first = await raise();
      await until(() => received.some((r) => r.event.data.id === first.id), 'the first alert');
      const firstId = live.lastEventId!;
      expect(received[0]).toMatchObject({ id: firstId, channel: 'alerts', event: { event: 'alert.triggered', data: { id: first.id, severity: 'critical' } } });

      // The connection drops; alerts are raised while it is down; it comes back by itself and resumes.
      proxy.cut('refuse');
      await until(() => errors.some((e) => e.retry), 'the drop to be noticed');
      const missed = [await raise(), await raise()];
      proxy.restore();
      await until(() => opened >= 2 && live.channels.includes('alerts'), 'the reconnection');
      const live2 = await raise();
      const ids = [first, ...missed, live2].map((a) => a.id);
      await until(() => received.filter((r) => r.event.event === 'alert.triggered').length >= ids.length, 'every alert');
      expect(received.filter((r) => r.event.event === 'alert.triggered').map((r) => r.event.data.id)).toEqual(ids);
      const positions = received.map((r) => BigInt(r.id));
      expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);
      // A new authentication for the new socket: the token was asked for again.
      expect(tokens).toBeGreaterThanOrEqual(2);
    } finally {
      live.close();
      await live.closed;
    }
  });

  it('is told a channel it may not read is refused, and receives the others', async () => {
    const key = (await server.call('POST', '/api/v1/api-keys', { json: { name: 'live alerts only', scopes: ['events:subscribe', 'alerts:read'] } })).body.data as { secret: string };
    const refused: LiveError[] = [];
    const received: StreamEvent[] = [];
    const live = connectLive({ baseUrl, token: key.secret, channels: ['alerts', 'tasks'], onEvent: (event) => void received.push(event), onError: (error) => void refused.push(error) });
    try {
      await until(() => refused.length > 0 && live.channels.length > 0, 'the refusal');
      expect(refused[0]).toMatchObject({ code: 'PERM_DENIED', channel: 'tasks' });
      expect(live.channels).toEqual(['alerts']);
      const alert = await raise();
      await until(() => received.some((e) => e.data.id === alert.id), 'the alert');
    } finally {
      live.close();
      await live.closed;
    }
  });

  it('ends with the server’s refusal of a bad credential, without reconnecting', async () => {
    const errors: Array<{ error: LiveError; retry: boolean }> = [];
    const live = connectLive({ baseUrl, token: 'not-a-token', channels: ['alerts'], onEvent: () => {}, onError: (error, reconnect) => void errors.push({ error, retry: reconnect !== undefined }) });
    await expect(live.closed).rejects.toMatchObject({ name: 'LiveError', code: 'AUTH_INVALID_TOKEN', closeCode: 4401 });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.retry).toBe(false);
  });
});
