// A TCP proxy a test can cut and restore, to play a database that goes away and comes back
// without touching the shared PostgreSQL server.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Drops every open connection and refuses new ones (silently: they hang until the client times out). */
  cut(mode?: 'refuse' | 'blackhole'): void;
  /**
   * Plays a hung server (a PostgreSQL whose processes got SIGSTOP): open connections stay open but
   * nothing is forwarded either way, and new connections are accepted and never answered. `restore()`
   * plays SIGCONT: what was held is delivered, and the held connections are put through.
   */
  hang(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  // Each connection that is through: its two ends, to stop and start forwarding between them.
  const links = new Set<{ client: Socket; upstream: Socket }>();
  const held = new Set<Socket>();
  let state: 'open' | 'refuse' | 'blackhole' | 'hang' = 'open';

  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const forward = (link: { client: Socket; upstream: Socket }) => {
    link.client.pipe(link.upstream);
    link.upstream.pipe(link.client);
  };
  const putThrough = (client: Socket) => {
    const upstream = connect(targetPort, targetHost);
    track(upstream);
    const link = { client, upstream };
    links.add(link);
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      links.delete(link);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    forward(link);
  };

  const server: Server = createServer((client) => {
    if (state === 'refuse') return void client.destroy();
    track(client);
    client.on('error', () => client.destroy());
    if (state === 'blackhole') return; // accept, never answer
    if (state === 'hang') {
      client.pause();
      held.add(client);
      client.on('close', () => held.delete(client));
      return;
    }
    putThrough(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut(mode = 'refuse') {
      state = mode;
      for (const socket of sockets) socket.destroy();
    },
    hang() {
      state = 'hang';
      for (const { client, upstream } of links) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    restore() {
      const wasHung = state === 'hang';
      state = 'open';
      if (!wasHung) return;
      for (const link of links) forward(link);
      for (const client of held) {
        held.delete(client);
        putThrough(client);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `url` (a database URL) with its host and port replaced by the proxy's, so the connection goes through it. */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const via = new URL(url);
  via.hostname = '127.0.0.1';
  via.port = String(proxy.port);
  return via.toString();
}
