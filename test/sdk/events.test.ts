// subscribeEvents against a fake fetch: the SSE parser's rules; typed events in order; reconnecting after
// `retry:` with Last-Event-ID; backing off while attempts fail; refusals that end the subscription; the
// session's token refresh on the way; idle connections replaced; closing.
import { describe, expect, test } from 'vitest';
import { createOpsdeckClient, EVENT_TYPES, OpsdeckError, SseParser, subscribeEvents, type StreamEvent } from '@opsdeck/sdk';
import { spec } from '../../server/contract.ts';
import { failure, fakeAuthServer, fakeFetch, type Recorded } from './fake-server.ts';

const baseUrl = 'https://opsdeck.test';
const TEAM = '0192f0a0-0000-7000-8000-00000000000a';

const alertEvent = (n: number, event: string = 'alert.triggered') => ({
  id: `0192f3c2-0000-7000-8000-${String(n).padStart(12, '0')}`,
  event,
  timestamp: '2026-11-21T10:30:00.000Z',
  team_id: TEAM,
  data: { id: `0192f2b0-0000-7000-8000-${String(n).padStart(12, '0')}`, title: `Alert ${n}`, severity: 'critical', status: 'open' },
});
const message = (seq: number, payload: object = alertEvent(seq)) => `id: ${seq}\nevent: ${(payload as { event: string }).event}\ndata: ${JSON.stringify(payload)}\n\n`;

/** An SSE answer: the chunks, then the end (or, with `open`, nothing more until the request is aborted). */
function sse(request: Request, chunks: string[], options: { open?: boolean } = {}): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (!options.open) return controller.close();
      request.signal.addEventListener('abort', () => controller.error(request.signal.reason));
    },
  });
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream; charset=utf-8' } });
}

async function until(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('the SSE parser', () => {
  const parse = (...chunks: string[]) => {
    const parser = new SseParser();
    return chunks.flatMap((chunk) => parser.push(chunk));
  };

  test('dispatches on a blank line, with the event type, joined data lines and the last event id', () => {
    expect(parse('id: 1\nevent: alert.triggered\ndata: a\ndata: b\n\n')).toEqual([{ event: 'alert.triggered', data: 'a\nb', lastEventId: '1' }]);
    expect(parse('data: x\n\n')).toEqual([{ event: 'message', data: 'x', lastEventId: undefined }]);
  });

  test('takes CRLF, CR and LF line ends, also split between chunks, and lines split between chunks', () => {
    const expected = [
      { event: 'message', data: 'one', lastEventId: undefined },
      { event: 'message', data: 'two', lastEventId: undefined },
      { event: 'message', data: 'three', lastEventId: undefined },
    ];
    expect(parse('data: one\r\n\r\ndata: two\r\rdata: three\n\n')).toEqual(expected);
    expect(parse('data: o', 'ne\r', '\n\r', '\ndata: two\r', '\r', 'data: three\n', '\n')).toEqual(expected);
  });

  test('ignores comments and unknown fields; one space after the colon is dropped; a field alone has no value', () => {
    expect(parse(': keep-alive\n\nfoo: bar\ndata:  two spaces\ndata\ndata:x\n\n')).toEqual([{ event: 'message', data: ' two spaces\n\nx', lastEventId: undefined }]);
  });

  test('keeps the id from one message to the next, ignores an id with NUL, and moves it with a message without data', () => {
    expect(parse('id: 5\ndata: a\n\ndata: b\n\nid: 6\u0000\ndata: c\n\nid: 7\n\n')).toEqual([
      { event: 'message', data: 'a', lastEventId: '5' },
      { event: 'message', data: 'b', lastEventId: '5' },
      { event: 'message', data: 'c', lastEventId: '5' },
      { event: 'message', data: '', lastEventId: '7' },
    ]);
  });

  test('answers retry only when it is all digits, and never dispatches an unfinished message', () => {
    expect(parse('retry: 3000\n\nretry: 3s\n\nretry: -1\n\ndata: unfinished')).toEqual([3000]);
  });
});

describe('subscribeEvents', () => {
  test('knows every event type of the contract', () => {
    const declared = (spec.components!.schemas!.EventType as { oneOf: Array<{ const: string }> }).oneOf.map((t) => t.const);
    expect([...EVENT_TYPES].sort()).toEqual(declared.sort());
  });

  test('asks for the channels and team, delivers typed events in order, and resumes after `retry:` with Last-Event-ID', async () => {
    const { fetch, calls } = fakeFetch((call, i) => {
      if (i === 0) return sse(call.request, ['retry: 5\n\n', message(1), message(2).slice(0, 20), message(2).slice(20)]);
      return sse(call.request, [message(3), ': keep-alive\n\n'], { open: true });
    });
    const client = createOpsdeckClient({ baseUrl, fetch, token: 'at_1', retries: false });
    const seen: Array<{ id: string; title: string }> = [];
    const subscription = subscribeEvents(client, {
      channels: ['alerts', 'tasks'],
      teamId: TEAM,
      onEvent(event, { id }) {
        if (event.event === 'alert.triggered') seen.push({ id, title: event.data.title });
      },
    });
    await until(() => seen.length === 3, 'three events');
    expect(seen).toEqual([
      { id: '1', title: 'Alert 1' },
      { id: '2', title: 'Alert 2' },
      { id: '3', title: 'Alert 3' },
    ]);
    const first = calls[0]!;
    expect(first.url.pathname).toBe('/api/v1/events');
    expect(first.url.searchParams.get('channels')).toBe('alerts,tasks');
    expect(first.url.searchParams.get('team_id')).toBe(TEAM);
    expect(first.request.headers.get('Accept')).toBe('text/event-stream, application/json;q=0.9');
    expect(first.request.headers.get('Authorization')).toBe('Bearer at_1');
    expect(first.request.headers.get('Last-Event-ID')).toBeNull();
    expect(calls[1]!.request.headers.get('Last-Event-ID')).toBe('2');
    expect(subscription.lastEventId).toBe('3');
    subscription.close();
    await expect(subscription.closed).resolves.toBeUndefined();
    expect(calls).toHaveLength(2);
  });

  test('starts after lastEventId, and skips event types it does not know (their position still counts)', async () => {
    const { fetch, calls } = fakeFetch((call) => sse(call.request, [message(8, { ...alertEvent(8), event: 'alert.exploded' }), message(9)], { open: true }));
    const events: StreamEvent[] = [];
    const subscription = subscribeEvents({ baseUrl, fetch, apiKey: 'opk_good', retries: false }, { lastEventId: '7', onEvent: (event) => void events.push(event) });
    await until(() => events.length === 1, 'an event');
    expect(calls[0]!.request.headers.get('Last-Event-ID')).toBe('7');
    expect(calls[0]!.request.headers.get('X-API-Key')).toBe('opk_good');
    expect(events.map((e) => e.event)).toEqual(['alert.triggered']);
    expect(subscription.lastEventId).toBe('9');
    subscription.close();
    await subscription.closed;
  });

  test('reconnects after a 503 and a network error, telling onError each time, waiting at most maxRetryDelayMs', async () => {
    const { fetch, calls } = fakeFetch((call, i) => {
      if (i === 0) return failure(503, 'EXT_SERVICE_UNAVAILABLE');
      if (i === 1) throw new TypeError('fetch failed');
      return sse(call.request, ['retry: 5\n\n', message(1)], { open: true });
    });
    const errors: Array<{ error: unknown; retryInMs: number | undefined }> = [];
    const events: StreamEvent[] = [];
    const subscription = subscribeEvents(
      { baseUrl, fetch, token: 't', retries: false },
      { onEvent: (event) => void events.push(event), onError: (error, reconnect) => void errors.push({ error, retryInMs: reconnect?.retryInMs }), maxRetryDelayMs: 50 },
    );
    await until(() => events.length === 1, 'an event', 15_000);
    expect(calls).toHaveLength(3);
    expect(errors).toHaveLength(2);
    expect(errors[0]!.error).toBeInstanceOf(OpsdeckError);
    expect((errors[0]!.error as OpsdeckError).code).toBe('EXT_SERVICE_UNAVAILABLE');
    expect(errors[1]!.error).toBeInstanceOf(TypeError);
    for (const { retryInMs } of errors) expect(retryInMs).toBeLessThanOrEqual(50);
    subscription.close();
    await subscription.closed;
  });

  test('ends on a refusal that would only repeat (403), with the OpsdeckError', async () => {
    const { fetch, calls } = fakeFetch(() => failure(403, 'PERM_DENIED'));
    const errors: unknown[] = [];
    const subscription = subscribeEvents({ baseUrl, fetch, token: 't' }, { channels: ['tasks'], onEvent: () => {}, onError: (error, reconnect) => void errors.push([error, reconnect]) });
    await expect(subscription.closed).rejects.toMatchObject({ code: 'PERM_DENIED', status: 403 });
    expect(calls).toHaveLength(1);
    expect(errors).toEqual([[expect.any(OpsdeckError), undefined]]);
  });

  test('ends with the error onEvent throws', async () => {
    const { fetch } = fakeFetch((call) => sse(call.request, [message(1), message(2)], { open: true }));
    const boom = new Error('boom');
    const subscription = subscribeEvents({ baseUrl, fetch, token: 't' }, {
      onEvent: (_event, { id }) => {
        if (id === '2') throw boom;
      },
    });
    await expect(subscription.closed).rejects.toBe(boom);
    expect(subscription.lastEventId).toBe('1');
  });

  test('refreshes an expired session token on reconnect, through the client', async () => {
    let stream = 0;
    const server = fakeAuthServer({ route: (call: Recorded) => sse(call.request, stream++ === 0 ? ['retry: 5\n\n', message(1)] : [message(2)], { open: stream > 1 }) });
    const client = createOpsdeckClient({ baseUrl, fetch: server.fetch, retries: false, session: {} });
    await client.login('ada@example.com', 'secret');
    const ids: string[] = [];
    const subscription = subscribeEvents(client, {
      onEvent: (_event, { id }) => {
        ids.push(id);
        // The server ends the first stream when the token expires.
        if (id === '1') server.expire();
      },
    });
    await until(() => ids.length === 2, 'the event after the refresh');
    expect(server.refreshes()).toHaveLength(1);
    const streams = server.protectedCalls();
    expect(streams.map((c) => c.request.headers.get('Authorization'))).toEqual(['Bearer at_1', 'Bearer at_1', 'Bearer at_2']);
    expect(streams[2]!.request.headers.get('Last-Event-ID')).toBe('1');
    subscription.close();
    await subscription.closed;
  });

  test('replaces a connection that brings nothing for idleTimeoutMs', async () => {
    const { fetch, calls } = fakeFetch((call) => sse(call.request, ['retry: 5\n\n'], { open: true }));
    const errors: unknown[] = [];
    const subscription = subscribeEvents({ baseUrl, fetch, token: 't' }, { idleTimeoutMs: 40, onEvent: () => {}, onError: (error) => void errors.push(error) });
    await until(() => calls.length >= 2, 'a second connection');
    expect((errors[0] as Error).name).toBe('IdleConnection');
    subscription.close();
    await subscription.closed;
  });

  test('ends when its signal aborts, also during a wait between attempts', async () => {
    const { fetch, calls } = fakeFetch(() => failure(503, 'EXT_SERVICE_UNAVAILABLE'));
    const controller = new AbortController();
    const subscription = subscribeEvents({ baseUrl, fetch, token: 't', retries: false }, { signal: controller.signal, onEvent: () => {} });
    await until(() => calls.length === 1, 'the first attempt');
    controller.abort();
    await expect(subscription.closed).resolves.toBeUndefined();
    expect(calls).toHaveLength(1);
  });
});
