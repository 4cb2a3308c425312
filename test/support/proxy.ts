/**
 * A TCP proxy in front of the broker whose link a test can cut: `cut(ms)` drops every
 * connection through it and refuses new ones for that long, as a car losing its network would.
 */
import { createServer, connect, type Socket } from 'node:net';

export interface LinkProxy {
  url: string;
  port: number;
  /** Drops all connections and refuses new ones for `ms`; resolves when the link is back. */
  cut(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(targetUrl: string): Promise<LinkProxy> {
  const target = new URL(targetUrl);
  const pairs = new Set<[Socket, Socket]>();
  let downUntil = 0;
  const server = createServer((client) => {
    if (Date.now() < downUntil) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async cut(ms) {
      downUntil = Date.now() + ms;
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      // The outage lasts this long: an emulated duration, not a stand-in for an event.
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
