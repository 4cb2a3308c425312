/**
 * `startBroker`: the embedded aedes broker with its listeners, security hooks, payload
 * guard and `$share` dispatcher, wired together. The only module that creates aedes.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import { pino, type Logger } from 'pino';
import { EdgeweaveError } from '../schemas/errors.ts';
import { checkAedesVersion, dedupeDeliveriesExactly, guardParser, observePackets } from './aedes-internals.ts';
import type { AuthFile } from './auth-file.ts';
import { installConnectRules, ProtocolLevelScanner, refuseProtocolLevel } from './connect-rules.ts';
import { listenMqtt, listenWebSocket, type HttpHandler, type Listener, type TlsOptions } from './listeners.ts';
import { maxRemainingBytesFor, PacketSizeScanner } from './packet-size-guard.ts';
import { createPersistence, type PersistenceSpec } from './persistence.ts';
import { installSecurity } from './security.ts';
import { SharedSubscriptions, type ShareGroupInfo, type SharedSubscriptionOptions } from './shared-subscriptions.ts';

export interface BrokerOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** MQTT (or MQTT over TLS) port; 0 picks a free one (default 1883). */
  port?: number;
  /** MQTT over WebSocket port; 0 picks a free one; absent or null: no WebSocket listener. */
  wsPort?: number | null;
  /** WebSocket path (default `/mqtt`). */
  wsPath?: string;
  /** Users, roles and password hashes; absent or null: anonymous access, no ACL. */
  auth?: AuthFile | null;
  /** Serve MQTT over TLS and WebSocket over TLS with this certificate and key. */
  tls?: TlsOptions | null;
  /** Largest payload accepted; larger publishes close the publisher's connection (default 64 MiB). */
  maxPayloadBytes?: number;
  /** Sessions, retained messages and wills (default in memory). */
  persistence?: PersistenceSpec;
  /** Plain HTTP requests on the WebSocket port (for example a dashboard page); 404 when absent. */
  httpHandler?: HttpHandler | null;
  /** `$share` tuning: in-flight window per member, backlog bounds, linger of empty groups. */
  shared?: SharedSubscriptionOptions;
  log?: Logger;
}

export interface BrokerHandle {
  /** `mqtt://host:port` or `mqtts://host:port`. */
  url: string;
  /** `ws://host:wsPort/mqtt` or `wss://...`; null without a WebSocket listener. */
  wsUrl: string | null;
  port: number;
  wsPort: number | null;
  /** The `$share` groups and their state, for diagnostics and tests. */
  sharedGroups(): ShareGroupInfo[];
  /** Stops accepting, disconnects every client and releases the ports. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

function checkOptions(options: BrokerOptions): void {
  const port = (name: string, value: number | null | undefined): void => {
    if (value !== undefined && value !== null && (!Number.isInteger(value) || value < 0 || value > 65535)) {
      throw new EdgeweaveError('E_CONFIG', `${name} must be a port number 0..65535, got ${value}`);
    }
  };
  port('port', options.port);
  port('wsPort', options.wsPort);
  const max = options.maxPayloadBytes;
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 256 * 1024 * 1024)) {
    throw new EdgeweaveError('E_CONFIG', `maxPayloadBytes must be 1..268435456, got ${max}`);
  }
  if (options.wsPath !== undefined && !options.wsPath.startsWith('/')) throw new EdgeweaveError('E_CONFIG', `wsPath must start with /, got ${options.wsPath}`);
}

export async function startBroker(options: BrokerOptions = {}): Promise<BrokerHandle> {
  checkOptions(options);
  const host = options.host ?? '127.0.0.1';
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const maxRemainingBytes = maxRemainingBytesFor(maxPayloadBytes);
  const tls = options.tls ?? null;
  const log = (options.log ?? pino({ level: 'silent' })).child({ component: 'broker' });

  const persistence = await createPersistence(options.persistence ?? { kind: 'memory' });
  const broker = await Aedes.createBroker(persistence.instance === undefined ? {} : { persistence: persistence.instance as never });
  try {
    checkAedesVersion(broker);
  } catch (err) {
    broker.close();
    throw err;
  }
  const shares = new SharedSubscriptions(broker, log, options.shared ?? {});
  const security = installSecurity(broker, { auth: options.auth ?? null, maxPayloadBytes, shares, log });
  installConnectRules(broker, log);

  broker.on('clientReady', (client) => {
    log.debug({ clientId: client.id, user: security.userOf(client) }, 'client connected');
    shares.resumed(client);
  });
  broker.on('clientDisconnect', (client) => log.debug({ clientId: client.id }, 'client disconnected'));
  broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
  broker.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error'));
  (broker as unknown as NodeJS.EventEmitter).on('error', (err: Error) => log.error({ err, code: 'E_BROKER' }, 'broker error'));

  const handle = (conn: Duplex, req?: IncomingMessage): void => {
    const client: Client = broker.handle(conn, req);
    dedupeDeliveriesExactly(client);
    const levels = new ProtocolLevelScanner();
    const scanner = new PacketSizeScanner(maxRemainingBytes);
    let refused = false;
    guardParser(client, (chunk) => {
      if (refused) return false;
      const level = levels.scan(chunk);
      if (level !== null) {
        refused = true;
        refuseProtocolLevel(conn, level, log);
        return false;
      }
      const oversized = scanner.scan(chunk);
      if (oversized === null) return true;
      refused = true;
      log.warn(
        { clientId: client.id, user: security.userOf(client), packetType: oversized.packetType, bytes: oversized.remainingBytes, maxPayloadBytes, code: 'E_PAYLOAD_TOO_LARGE' },
        'packet too large; closing the connection',
      );
      conn.destroy();
      return false;
    });
    observePackets(client, (packet) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) shares.acknowledged(client, packet.messageId);
    });
    conn.on('drain', () => shares.resumed(client));
    conn.once('close', () => shares.connectionClosed(client));
  };
  const onListenerError = (err: Error): void => log.debug({ err: err.message }, 'listener error');

  const listeners: Listener[] = [];
  let closing: Promise<void> | null = null;
  let listening = false;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shares.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await Promise.all(listeners.map((l) => l.close()));
      await persistence.close();
      if (listening) log.info('broker stopped');
    })();
    return closing;
  };

  try {
    const mqtt = await listenMqtt({ host, port: options.port ?? 1883, tls, maxPacketBytes: maxRemainingBytes + 5 }, handle, onListenerError);
    listeners.push(mqtt);
    let wsPort: number | null = null;
    const wsPath = options.wsPath ?? '/mqtt';
    if (options.wsPort !== undefined && options.wsPort !== null) {
      const ws = await listenWebSocket(
        { host, port: options.wsPort, tls, path: wsPath, maxMessageBytes: maxRemainingBytes + 5, httpHandler: options.httpHandler ?? null },
        handle,
        onListenerError,
      );
      listeners.push(ws);
      wsPort = ws.port;
    }
    const urlHost = host.includes(':') ? `[${host}]` : host;
    const url = `${tls ? 'mqtts' : 'mqtt'}://${urlHost}:${mqtt.port}`;
    const wsUrl = wsPort === null ? null : `${tls ? 'wss' : 'ws'}://${urlHost}:${wsPort}${wsPath}`;
    listening = true;
    log.info({ url, wsUrl, users: options.auth ? Object.keys(options.auth.users).length : null, maxPayloadBytes }, 'broker listening');
    return { url, wsUrl, port: mqtt.port, wsPort, sharedGroups: () => shares.info(), close };
  } catch (err) {
    await close();
    throw err;
  }
}
