// The live stream's connection on its own (a local bus, a sink in memory): the replay and the events
// that came meanwhile are written once each, in stream order; a connection ends when its client falls
// behind, when the bus may have missed events, or when the credential expires; the SSE format; the policy.
import { describe, expect, it } from 'vitest';
import { localEventBus, type EventBus, type PublishedEvent } from '../../server/events/event-bus.ts';
import { eventStreamPolicy, MAX_BUFFERED_BYTES, StreamConnection, type ConnectionOptions } from '../../server/events/stream.ts';
import { formatComment, formatMessage, OpenStreams, ServerStopping, type EventStreamSink, type SseMessage } from '../../server/http/event-stream.ts';
import { spec } from '../../server/contract.ts';
import { createLogger } from '../../server/logger.ts';
import type { StreamEvent } from '../../server/events/catalogue.ts';

const TEAM = '0192f0a0-0000-7000-8000-00000000000a';
const OTHER_TEAM = '0192f0a0-0000-7000-8000-00000000000b';
const log = createLogger('silent');

function published(seq: number, overrides: { team?: string; channel?: PublishedEvent['channel'] } = {}): PublishedEvent {
  const channel = overrides.channel ?? 'alerts';
  const event = { id: `0192f3c2-0000-7000-8000-${String(seq).padStart(12, '0')}`, event: channel === 'alerts' ? 'alert.triggered' : 'task.completed', timestamp: '2026-11-21T10:30:00.000Z', team_id: overrides.team ?? TEAM, data: { id: `r${seq}` } };
  return { seq: String(seq), channel, event: event as unknown as StreamEvent };
}

/** A sink that keeps what is written; `buffered` is what the test says it is. */
function memorySink() {
  const controller = new AbortController();
  const written: Array<SseMessage | string> = [];
  const sink = {
    buffered: 0,
    send: (message: SseMessage) => (written.push(message), true),
    comment: (text: string) => (written.push(text), true),
    drained: async () => {},
    signal: controller.signal,
  } satisfies EventStreamSink;
  const ids = () => written.flatMap((w) => (typeof w === 'object' && w.id !== undefined ? [w.id] : []));
  return { sink, written, ids, disconnect: () => controller.abort(new Error('gone')) };
}

const policy = eventStreamPolicy({ keepalive_seconds: 0.05, retry_ms: 100 });
const options = (overrides: Partial<ConnectionOptions> = {}): ConnectionOptions => ({
  scope: { teamIds: new Set([TEAM]), channels: new Set(['alerts']) },
  after: undefined,
  watch: { expiresAt: null, stillAllowed: async () => true },
  policy,
  log,
  ...overrides,
});
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a stream connection', () => {
  it('writes retry, the replay, then what came meanwhile and live events: each once, in order, in scope', async () => {
    const bus = localEventBus(log);
    const connection = new StreamConnection(bus, options({ after: 1n }));
    // Published while the replay was read: 3 is also in the replay, 4 is not; others are out of scope.
    await bus.publish([published(3), published(4), published(5, { team: OTHER_TEAM }), published(6, { channel: 'tasks' })]);
    const { sink, written, ids, disconnect } = memorySink();
    const running = connection.run(sink, [published(2), published(3)]);
    await tick();
    await bus.publish([published(4), published(7), published(1)]);
    await tick();
    disconnect();
    await running;
    expect(written[0]).toEqual({ retry: 100 });
    expect(ids()).toEqual(['2', '3', '4', '7']);
    const message = written.find((w) => typeof w === 'object' && w.id === '7') as SseMessage;
    expect(message.event).toBe('alert.triggered');
    expect(JSON.parse(message.data!)).toEqual(published(7).event);
  });

  it('stops listening when it ends', async () => {
    const bus = localEventBus(log);
    let listeners = 0;
    const counting: EventBus = { ...bus, subscribe: (l) => (listeners++, ((off) => () => (listeners--, off()))(bus.subscribe(l))) };
    const { sink, disconnect } = memorySink();
    const running = new StreamConnection(counting, options()).run(sink, []);
    expect(listeners).toBe(1);
    disconnect();
    await running;
    expect(listeners).toBe(0);
    const unused = new StreamConnection(counting, options());
    unused.close();
    expect(listeners).toBe(0);
  });

  it('sends keep-alive comments', async () => {
    const { sink, written, disconnect } = memorySink();
    const running = new StreamConnection(localEventBus(log), options()).run(sink, []);
    await tick(180);
    disconnect();
    await running;
    expect(written.filter((w) => w === 'keep-alive').length).toBeGreaterThanOrEqual(2);
  });

  it('ends when the client falls too far behind', async () => {
    const bus = localEventBus(log);
    const { sink, ids } = memorySink();
    const running = new StreamConnection(bus, options()).run(sink, []);
    await tick();
    await bus.publish([published(1)]);
    sink.buffered = MAX_BUFFERED_BYTES + 1;
    await bus.publish([published(2), published(3)]);
    await running; // ended by itself
    expect(ids()).toEqual(['1', '2']);
  });

  it('ends when the bus may have missed events, and when the credential expires', async () => {
    let interrupt = () => {};
    const bus: EventBus = { ...localEventBus(log), onInterrupted: (listener) => ((interrupt = listener), () => {}) };
    const first = memorySink();
    const running = new StreamConnection(bus, options()).run(first.sink, []);
    await tick();
    interrupt();
    await running;

    const second = memorySink();
    const started = Date.now();
    await new StreamConnection(localEventBus(log), options({ watch: { expiresAt: new Date(Date.now() + 120), stillAllowed: async () => true } })).run(second.sink, []);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });
});

describe('the SSE format', () => {
  it('writes fields, one data line per line of the value, and a blank line', () => {
    expect(formatMessage({ id: '7', event: 'alert.triggered', data: '{"a":1}' })).toBe('id: 7\nevent: alert.triggered\ndata: {"a":1}\n\n');
    expect(formatMessage({ data: 'one\ntwo\r\nthree' })).toBe('data: one\ndata: two\ndata: three\n\n');
    expect(formatMessage({ retry: 3000 })).toBe('retry: 3000\n\n');
    expect(formatComment('keep-alive')).toBe(': keep-alive\n\n');
    expect(() => formatMessage({ event: 'a\nb' })).toThrow();
    expect(() => formatMessage({ id: 'a\0' })).toThrow();
    expect(() => formatMessage({ retry: 1.5 })).toThrow();
  });
});

describe('open streams', () => {
  it('closeAll aborts every open stream, waits for them, and aborts later ones at once', async () => {
    const streams = new OpenStreams();
    const reasons: unknown[] = [];
    const until = (controller: AbortController) =>
      new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => (reasons.push(controller.signal.reason), resolve())));
    void streams.run(until);
    void streams.run(until);
    expect(streams.size).toBe(2);
    await streams.closeAll();
    expect(streams.size).toBe(0);
    expect(reasons.every((r) => r instanceof ServerStopping)).toBe(true);
    await streams.run(async (controller) => void reasons.push(controller.signal.aborted));
    expect(reasons.at(-1)).toBe(true);
  });
});

describe('the stream policy', () => {
  it('is the spec’s x-event-stream, with overrides, and refuses bad ones', () => {
    const { description: _description, ...declared } = (spec as unknown as { 'x-event-stream': Record<string, unknown> })['x-event-stream'];
    expect(Object.keys(declared).sort()).toEqual(['auth_timeout_seconds', 'keepalive_seconds', 'max_message_bytes', 'max_streams_per_caller', 'reauthenticate_seconds', 'replay_hours', 'replay_max_events', 'retry_ms']);
    expect(eventStreamPolicy()).toEqual(declared);
    expect(eventStreamPolicy({ keepalive_seconds: 0.2 }).keepalive_seconds).toBe(0.2);
    expect(() => eventStreamPolicy({ keepalive: 1 })).toThrow(/EVENT_STREAM: unknown field keepalive/);
    expect(() => eventStreamPolicy({ retry_ms: 0 })).toThrow(/positive/);
    expect(() => eventStreamPolicy({ replay_max_events: 1.5 })).toThrow(/whole/);
  });
});
