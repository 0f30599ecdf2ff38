// A real endpoint for webhook tests: an HTTP server on 127.0.0.1 that records every request and answers
// as each path is told to (a status per request, or hanging without answering).
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyOpsdeckSignature } from '@opsdeck/sdk';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as received (what the signature covers). */
  body: string;
  at: number;
}

/** How a path answers: a status (with an optional body), or `hang` (never answers). */
export type Reply = number | { status: number; body: string } | 'hang';

export interface WebhookReceiver {
  /** The base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Answers the next requests to `path` with these replies in turn, then with the last one. */
  script(path: string, replies: Reply[]): void;
  received(path: string): ReceivedRequest[];
  /** Resolves once `path` has received `count` requests (fails after `timeoutMs`). */
  waitFor(path: string, count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const scripts = new Map<string, Reply[]>();
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      requests.push({ method: req.method ?? '', path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const replies = scripts.get(path) ?? [200];
      const reply = replies.length > 1 ? replies.shift()! : replies[0]!;
      if (reply === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      const { status, body } = typeof reply === 'number' ? { status: reply, body: status2text(reply) } : reply;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const received = (path: string) => requests.filter((r) => r.path === path);
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (path, replies) => void scripts.set(path, [...replies]),
    received,
    async waitFor(path, count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received(path).length < count) {
        if (Date.now() > deadline) throw new Error(`${path} received ${received(path).length} of ${count} requests in ${timeoutMs} ms`);
        await sleep(20);
      }
      return received(path);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const status2text = (status: number) => (status >= 200 && status < 300 ? '{"ok":true}' : `status ${status} from the test receiver`);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value that is not undefined (fails after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Checks a delivery's signature as a receiver does, with the SDK's helper (over the raw body and headers). */
export const signatureValid = (secret: string, request: ReceivedRequest): Promise<boolean> => verifyOpsdeckSignature(request.body, request.headers, secret);
