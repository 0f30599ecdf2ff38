// Raw Server-Sent Events connections for tests: the status and headers as sent, the text as it came
// (comments included), and the messages, parsed with the SDK's parser.
import { isIP } from 'node:net';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { SseParser, type SseMessage, type StreamEvent } from '@opsdeck/sdk';
import { spec } from '../../server/contract.ts';

export interface StreamMessage extends SseMessage {
  /** The message's `id:` (the stream position). */
  id: string;
  /** `data` parsed. */
  payload: StreamEvent;
}

export interface SseConnection {
  status: number;
  headers: Headers;
  /** The error envelope of a refused request (status ≠ 200). */
  body: any;
  /** Everything received so far, as text. */
  readonly text: string;
  /** The messages with data received so far. */
  readonly messages: StreamMessage[];
  /** `retry:` values received. */
  readonly retries: number[];
  /** Whether the server has ended the stream. */
  readonly ended: boolean;
  /** Resolves with `check()`'s first truthy answer, checked after every chunk; rejects on timeout. */
  waitFor<T>(check: () => T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
  /** Waits for a message whose payload satisfies `match`. */
  waitForEvent(match: (message: StreamMessage) => boolean, timeoutMs?: number): Promise<StreamMessage>;
  /** Resolves when the server ends the stream (or it breaks). */
  closed: Promise<void>;
  close(): void;
}

export async function openStream(base: string, path = '/api/v1/events', headers: Record<string, string> = {}): Promise<SseConnection> {
  const controller = new AbortController();
  const response = await fetch(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const waiters = new Set<() => void>();
  const state = { text: '', messages: [] as StreamMessage[], retries: [] as number[], ended: false };
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };

  let body: unknown;
  let closed: Promise<void> = Promise.resolve();
  if (response.status !== 200) {
    const text = await response.text();
    body = text ? JSON.parse(text) : undefined;
    state.ended = true;
  } else {
    closed = (async () => {
      const reader = response.body!.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const chunk = decoder.decode(value, { stream: true });
          state.text += chunk;
          for (const item of parser.push(chunk)) {
            if (typeof item === 'number') state.retries.push(item);
            else if (item.data !== '') state.messages.push({ ...item, id: item.lastEventId ?? '', payload: JSON.parse(item.data) as StreamEvent });
          }
          notify();
        }
      } catch {
        // aborted by close(), or the connection broke
      } finally {
        state.ended = true;
        notify();
      }
    })();
  }

  const waitFor = <T>(check: () => T | undefined | false, timeoutMs = 5000, what = 'a condition'): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value) {
          finish();
          resolve(value);
        } else if (state.ended) {
          finish();
          reject(new Error(`the stream ended before ${what}; received:\n${state.text}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received:\n${state.text}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(attempt);
      };
      waiters.add(attempt);
      attempt();
    });

  return {
    status: response.status,
    headers: response.headers,
    body,
    get text() {
      return state.text;
    },
    get messages() {
      return state.messages;
    },
    get retries() {
      return state.retries;
    },
    get ended() {
      return state.ended;
    },
    waitFor,
    waitForEvent: (match, timeoutMs = 5000) => waitFor(() => state.messages.find(match), timeoutMs, 'a matching event'),
    closed,
    close: () => controller.abort(),
  };
}

// Each event is checked against the contract's StreamEvent schema.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true, validateSchema: false }));
ajv.addFormat('ip', { type: 'string', validate: (value: string) => isIP(value) !== 0 });
ajv.addSchema(spec as object, 'openapi.json');
const validateStreamEvent = ajv.compile({ $ref: 'openapi.json#/components/schemas/StreamEvent' });

/** The schema violations of a payload as a StreamEvent; empty when it is one. */
export function streamEventProblems(payload: unknown): string {
  return validateStreamEvent(payload) ? '' : ajv.errorsText(validateStreamEvent.errors, { separator: '; ' });
}
