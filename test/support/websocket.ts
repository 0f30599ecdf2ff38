// A test client of the live WebSocket (`openEventSocket`) over a real socket, with the `ws` package (which,
// unlike the global WebSocket, shows the 101's headers): it keeps every message and the close, and waits for them.
import type { IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';
import type { components } from '../../generated/openapi.d.ts';

export type ServerMessage = components['schemas']['EventSocketServerMessage'];
export type EventMessage = Extract<ServerMessage, { type: 'event' }>;

export interface Closed {
  code: number;
  reason: string;
}

export class TestSocket {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<Closed>;
  closedWith: Closed | undefined;
  /** The 101's headers. */
  readonly headers: IncomingHttpHeaders;
  readonly #socket: WebSocket;

  private constructor(socket: WebSocket, headers: IncomingHttpHeaders) {
    this.#socket = socket;
    this.headers = headers;
    socket.on('message', (data) => this.messages.push(JSON.parse(data.toString()) as ServerMessage));
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        resolve(this.closedWith);
      }),
    );
  }

  /** Opens the socket; with `token`, sends `auth` and waits for `authenticated`. `autoPong: false` leaves pings unanswered. */
  static async open(base: string, token?: string, options: { autoPong?: boolean } = {}): Promise<TestSocket> {
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v1/events/ws`, options);
    const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      socket.once('upgrade', (res) => resolve(res.headers));
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      socket.once('error', reject);
    });
    await new Promise((resolve) => (socket.readyState === WebSocket.OPEN ? resolve(undefined) : socket.once('open', resolve)));
    const opened = new TestSocket(socket, headers);
    if (token !== undefined) {
      opened.send({ type: 'auth', token });
      await opened.next('authenticated');
    }
    return opened;
  }

  send(message: unknown): void {
    this.#socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Waits until `check` answers something other than undefined/false. */
  async waitFor<T>(check: () => T | undefined | false, ms = 5000, what = 'a condition'): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = check();
      if (found !== undefined && found !== false) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; messages: ${JSON.stringify(this.messages).slice(0, 2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  #taken = 0;
  /** The first message of this type after the last one `next` took. */
  async next<K extends ServerMessage['type']>(type: K, ms = 5000): Promise<Extract<ServerMessage, { type: K }>> {
    const index = await this.waitFor(() => {
      const at = this.messages.findIndex((m, i) => i >= this.#taken && m.type === type);
      return at >= 0 ? at : undefined;
    }, ms, `a ${type} message`);
    this.#taken = index + 1;
    return this.messages[index] as Extract<ServerMessage, { type: K }>;
  }

  events(): EventMessage[] {
    return this.messages.filter((m): m is EventMessage => m.type === 'event');
  }

  /** The event message about the resource `id` (of type `event` when given). */
  eventAbout(id: string, event?: string, ms = 5000): Promise<EventMessage> {
    return this.waitFor(() => this.events().find((m) => m.data.data.id === id && (event === undefined || m.event === event)), ms, `an event about ${id}`);
  }

  close(): void {
    this.#socket.close(1000);
  }

  terminate(): void {
    this.#socket.terminate();
  }
}

/** An upgrade the server refuses before switching: its status, headers and body. */
export function refusedUpgrade(base: string, path: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}${path}`);
    socket.once('open', () => reject(new Error(`${path}: the upgrade was accepted`)));
    socket.once('error', () => {});
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
  });
}
