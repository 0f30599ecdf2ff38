// WebSocket answers (RFC 6455, with the `ws` package). An upgrade request is an ordinary request of the
// pipeline: the server's 'upgrade' listener (`upgradeThrough`) hands it to the app with a response on its socket,
// so it gets its request id, rate limit, validation, handler and access log like any other; a refusal is an
// ordinary error envelope, written as HTTP before the connection closes. A handler that accepts answers
// `{ status: 101, socket }` (operation-types.ts), and the binder switches protocols here (`answerWithSocket`):
// the 101 carries the headers the pipeline set, and the session runs among the server's open streams, so a
// graceful stop closes it with 1001 (going away) as it ends Server-Sent Events streams.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Request, Response } from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { outsideRequest } from '../db/database.ts';
import { ApiError } from './errors.ts';
import { http } from './node-http.ts';
import type { OpenStreams } from './event-stream.ts';
import type { RequestContext } from './request-context.ts';

/** What a handler answers to switch protocols: the session that runs on the socket. */
export interface SocketSession {
  /** The largest message the client may send; a larger one closes the socket with 1009 (message too big). */
  readonly maxMessageBytes: number;
  /** Takes the socket once it is open; the session ends when the socket closes. */
  accept(socket: WebSocket): void;
}

/** RFC 6455 §7.4.1: the server is going away (it stops); the client reconnects, to another server. */
export const CLOSE_GOING_AWAY = 1001;
/** How long a socket closed by a stopping server may take to answer the close before it is cut. */
const CLOSE_WAIT_MS = 1000;
/** Headers of the 101 that belong to the handshake, which `ws` writes itself. */
const HANDSHAKE_HEADERS = new Set(['connection', 'upgrade', 'content-length', 'transfer-encoding', 'sec-websocket-accept']);

/** The socket and first bytes of each upgrade request, from the 'upgrade' event to its answer. */
const upgrades = new WeakMap<IncomingMessage, { socket: Duplex; head: Buffer }>();

/**
 * The server's 'upgrade' listener: the request goes through `app` with a response written to its socket (which
 * then closes), unless an operation switches protocols on it.
 */
export function upgradeThrough(app: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    upgrades.set(req, { socket, head });
    socket.on('error', () => socket.destroy());
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => socket.end());
    app(req, res);
  };
}

/**
 * Switches protocols: 400 when the request did not ask to (no `Connection: Upgrade`, so it came as a plain
 * request), 503 when the server is stopping; else the 101, and the session takes the socket.
 */
export function answerWithSocket(ctx: RequestContext, req: Request, res: Response, session: SocketSession, streams: OpenStreams): void {
  const upgrade = upgrades.get(req);
  if (!upgrade) throw new ApiError('VAL_MALFORMED_REQUEST', 'This operation opens a WebSocket: send the request with `Connection: Upgrade` and `Upgrade: websocket`');
  if (streams.stopping) throw new ApiError('EXT_SERVICE_UNAVAILABLE', 'The server is stopping; connect again', { headers: { 'Retry-After': '1' } });
  upgrades.delete(req);
  const server = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: session.maxMessageBytes });
  server.once('headers', (headers: string[]) => {
    for (const [name, value] of Object.entries(res.getHeaders())) {
      if (value !== undefined && !HANDSHAKE_HEADERS.has(name)) headers.push(`${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
    }
  });
  res.statusCode = 101;
  server.handleUpgrade(req, upgrade.socket, upgrade.head, (socket) => {
    // The session outlives the request: its reads of the database are on their own deadlines, not the request's.
    void outsideRequest(() =>
      streams.run(async (controller) => {
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        const stop = () => {
          socket.close(CLOSE_GOING_AWAY, 'the server is stopping');
          setTimeout(() => socket.terminate(), CLOSE_WAIT_MS).unref();
        };
        if (controller.signal.aborted) stop();
        else controller.signal.addEventListener('abort', stop, { once: true });
        try {
          session.accept(socket);
        } catch (err) {
          ctx.log.error({ err }, 'websocket session failed');
          socket.terminate();
        }
        await closed;
      }),
    );
  });
}
