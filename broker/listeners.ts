/**
 * The broker's sockets: MQTT over TCP (or TLS) and MQTT over WebSocket (or secure
 * WebSocket) on an HTTP server whose other requests go to an optional handler (the
 * dashboard, later). Each listener hands every connection, as a duplex stream, to the
 * broker; closing a listener stops accepting and destroys what is still open.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { EdgeweaveError } from '../schemas/errors.ts';
import { readWholePackets } from './packet-reads.ts';

export interface TlsOptions {
  /** PEM certificate (chain). */
  cert: string | Buffer;
  /** PEM private key. */
  key: string | Buffer;
}

export type ConnectionHandler = (conn: Duplex, req?: IncomingMessage) => void;
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Listener {
  port: number;
  close(): Promise<void>;
}

interface Common {
  host: string;
  port: number;
  tls: TlsOptions | null;
}

/** What closing a listener destroys: its open connections. */
type Closable = Pick<Duplex, 'destroy' | 'once'>;

function track(sockets: Set<Closable>, connection: Closable): void {
  sockets.add(connection);
  connection.once('close', () => sockets.delete(connection));
}

function trackSockets(server: NetServer | HttpServer): Set<Closable> {
  const sockets = new Set<Closable>();
  server.on('connection', (socket: Socket) => {
    // MQTT is request/response-heavy (acks): never hold small packets back (Nagle).
    socket.setNoDelay(true);
    track(sockets, socket);
  });
  return sockets;
}

async function listen(server: NetServer | HttpServer, host: string, port: number, what: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new EdgeweaveError('E_BROKER', `cannot listen for ${what} on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new EdgeweaveError('E_BROKER', `${what} listener has no TCP address`);
  return address.port;
}

function closeServer(server: NetServer | HttpServer, sockets: Set<Closable>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
}

export interface MqttListenerOptions extends Common {
  /** Plain TCP: packets up to this size are read whole into one buffer (see packet-reads.ts). */
  maxPacketBytes: number;
}

/** MQTT over TCP, or over TLS when `tls` is given. */
export async function listenMqtt(options: MqttListenerOptions, handle: ConnectionHandler, onError: (err: Error) => void): Promise<Listener> {
  if (options.tls) {
    const server = createTlsServer({ cert: options.tls.cert, key: options.tls.key }, (socket) => handle(socket));
    server.on('tlsClientError', (err: Error) => onError(err));
    const sockets = trackSockets(server);
    const port = await listen(server, options.host, options.port, 'MQTT over TLS');
    server.on('error', onError);
    return { port, close: () => closeServer(server, sockets) };
  }
  const sockets = new Set<Closable>();
  const server = createNetServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    const connection = readWholePackets(socket, options.maxPacketBytes);
    if (connection === null) return;
    track(sockets, connection);
    handle(connection);
  });
  const port = await listen(server, options.host, options.port, 'MQTT');
  server.on('error', onError);
  return { port, close: () => closeServer(server, sockets) };
}

export interface WebSocketListenerOptions extends Common {
  path: string;
  /** Largest WebSocket message accepted (an MQTT packet arrives in one message from MQTT.js). */
  maxMessageBytes: number;
  /** Serves plain HTTP requests on the same port; 404 when absent. */
  httpHandler: HttpHandler | null;
}

/** MQTT over WebSocket at `path`, or over secure WebSocket when `tls` is given. */
export async function listenWebSocket(options: WebSocketListenerOptions, handle: ConnectionHandler, onError: (err: Error) => void): Promise<Listener> {
  const onRequest: HttpHandler =
    options.httpHandler ??
    ((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`MQTT over WebSocket is served at ${options.path}\n`);
    });
  const server: HttpServer = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createHttpServer(onRequest);
  if (options.tls) server.on('tlsClientError', (err: Error) => onError(err));
  const sockets = trackSockets(server);
  const wss = new WebSocketServer({ server, path: options.path, maxPayload: options.maxMessageBytes });
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    handle(stream, req);
  });
  wss.on('error', onError);
  const port = await listen(server, options.host, options.port, options.tls ? 'MQTT over secure WebSocket' : 'MQTT over WebSocket');
  server.on('error', onError);
  return {
    port,
    close: async () => {
      const wssClosed = new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const ws of wss.clients) ws.terminate();
      await wssClosed;
      server.closeAllConnections();
      await closeServer(server, sockets);
    },
  };
}
