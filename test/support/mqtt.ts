/**
 * MQTT helpers for tests: connect a real MQTT.js client and await its CONNACK, record
 * what it receives, and await counts or conditions with a bounded timeout (a timeout
 * fails the test; nothing here sleeps).
 */
import { connect, type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';

export const DEFAULT_WAIT_MS = 5_000;

export interface ReceivedMessage {
  /** Client id of the client that received it (several clients may share one inbox). */
  receiver: string;
  topic: string;
  payload: Buffer;
  qos: number;
  /** The packet id the broker used (QoS 1 and 2). */
  messageId: number | undefined;
  dup: boolean;
}

/** Everything a client received, in order, with ways to await more. */
export class Inbox {
  readonly messages: ReceivedMessage[] = [];
  private waiters: Array<{ check: () => boolean; resolve: () => void }> = [];

  record(message: ReceivedMessage): void {
    this.messages.push(message);
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `predicate` holds for the messages so far; rejects after `timeoutMs` saying `what` (computed then). */
  waitUntil(predicate: (messages: ReceivedMessage[]) => boolean, what: string | (() => string), timeoutMs = DEFAULT_WAIT_MS): Promise<ReceivedMessage[]> {
    const check = (): boolean => predicate(this.messages);
    if (check()) return Promise.resolve(this.messages);
    const waiter = { check, resolve: (): void => undefined };
    return withTimeout(
      new Promise<ReceivedMessage[]>((resolve) => {
        waiter.resolve = () => resolve(this.messages);
        this.waiters.push(waiter);
      }),
      timeoutMs,
      () => `${typeof what === 'string' ? what : what()} (have ${this.messages.length} messages)`,
    ).finally(() => {
      // A waiter that timed out is not checked again on every later message.
      this.waiters = this.waiters.filter((w) => w !== waiter);
    });
  }

  /** Resolves once at least `count` messages arrived. */
  waitForCount(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<ReceivedMessage[]> {
    return this.waitUntil((m) => m.length >= count, `waiting for ${count} messages`, timeoutMs);
  }

  /** Payloads as UTF-8 strings, optionally only those received by one client. */
  texts(receiver?: string): string[] {
    return this.messages.filter((m) => receiver === undefined || m.receiver === receiver).map((m) => m.payload.toString('utf8'));
  }

  /** How many messages each client received. */
  countsByReceiver(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of this.messages) counts.set(m.receiver, (counts.get(m.receiver) ?? 0) + 1);
    return counts;
  }
}

export interface TestClient {
  client: MqttClient;
  inbox: Inbox;
  /** The CONNACK (for `sessionPresent`). */
  connack: IConnackPacket;
}

/** Rejects with a clear message when `promise` does not settle in time (`what` may be computed then). */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${typeof what === 'string' ? what : what()}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface ConnectOptions {
  /** Record into this inbox (shared by several clients) instead of a new one. */
  inbox?: Inbox;
  timeoutMs?: number;
}

/**
 * Connects and resolves after CONNACK. The inbox is attached before connecting, so
 * messages a persistent session receives right away are not lost. No reconnects unless asked.
 */
export function connectClient(url: string, options: IClientOptions = {}, extra: ConnectOptions = {}): Promise<TestClient> {
  const timeoutMs = extra.timeoutMs ?? DEFAULT_WAIT_MS;
  const client = connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, ...options });
  const inbox = extra.inbox ?? new Inbox();
  const receiver = client.options.clientId ?? '';
  client.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => inbox.record({ receiver, topic, payload, qos: packet.qos, messageId: packet.messageId, dup: packet.dup }));
  const connected = new Promise<TestClient>((resolve, reject) => {
    const onConnect = (connack: IConnackPacket): void => {
      cleanup();
      resolve({ client, inbox, connack });
    };
    const onError = (err: Error): void => {
      cleanup();
      client.end(true);
      reject(err);
    };
    const onClose = (): void => onError(new Error('connection closed before CONNACK'));
    const cleanup = (): void => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
  return withTimeout(connected, timeoutMs + 1_000, `connecting to ${url}`).catch((err: unknown) => {
    client.end(true);
    throw err;
  });
}

/** Expects the broker to refuse the connection; resolves with the client's error (its `code` is the CONNACK return code). */
export async function connectRefused(url: string, options: IClientOptions = {}): Promise<Error & { code?: number }> {
  try {
    const { client } = await connectClient(url, options);
    await closeClients(client);
  } catch (err) {
    return err as Error & { code?: number };
  }
  throw new Error(`expected ${url} to refuse the connection, but it was accepted`);
}

/**
 * Subscribes and returns the granted QoS per filter (128 = refused). MQTT.js 5 rejects
 * when any grant is 128; the SUBACK rides on that error and is returned like a success.
 */
export async function subscribe(client: MqttClient, filters: string | string[], qos: 0 | 1 | 2 = 1): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters, { qos });
    return granted.map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: unknown } }).packet?.granted;
    if (Array.isArray(granted)) return granted.map((g: number | { qos: number }) => (typeof g === 'number' ? g : g.qos));
    throw err;
  }
}

/** Resolves when `client` closes (the broker dropped it, or it was ended). */
export function closed(client: MqttClient, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
  if (client.disconnected || (!client.connected && !client.reconnecting && client.stream?.destroyed === true)) return Promise.resolve();
  return withTimeout(new Promise<void>((resolve) => client.once('close', () => resolve())), timeoutMs, 'waiting for the client to close');
}

/** Makes the client never acknowledge a QoS 1 message (MQTT.js then stops processing its input too). */
export function neverAck(client: MqttClient): void {
  client.handleMessage = (_packet, _callback) => {};
}

const DEFER_PUBACK = new Error('puback deferred');

/**
 * Acknowledges QoS 1 messages only when asked, without stalling the client: handleMessage
 * calls back at once with an error (MQTT.js then sends no PUBACK and keeps reading), and
 * `ack` sends the PUBACK later through MQTT.js's internal `_sendPacket` (what
 * node-runtime/transport.ts does). `pending` lists the unacknowledged packet ids.
 */
export function deferAcks(client: MqttClient): { pending: number[]; ack(messageId: number): void } {
  const pending: number[] = [];
  client.handleMessage = (packet, callback) => {
    if (packet.cmd === 'publish' && packet.qos === 1 && packet.messageId !== undefined) pending.push(packet.messageId);
    callback(DEFER_PUBACK);
  };
  return {
    pending,
    ack(messageId: number): void {
      const index = pending.indexOf(messageId);
      if (index >= 0) pending.splice(index, 1);
      (client as unknown as { _sendPacket(packet: { cmd: 'puback'; messageId: number }): void })._sendPacket({ cmd: 'puback', messageId });
    },
  };
}

const CLOSE_WAIT_MS = 5_000;

/** Ends every client now (no DISCONNECT wait) and waits for each to close, at most `CLOSE_WAIT_MS` each. */
export async function closeClients(...clients: Array<MqttClient | undefined>): Promise<void> {
  await Promise.all(clients.filter((c): c is MqttClient => c !== undefined)
    .map((c) => withTimeout(c.endAsync(true), CLOSE_WAIT_MS, `closing client ${c.options.clientId}`).catch(() => {})));
}


/** Publishes `count` QoS 1 messages with payloads `${prefix}${i}`, awaiting every PUBACK. */
export async function publishNumbered(client: MqttClient, topic: string, count: number, options: { prefix?: string; qos?: 0 | 1 } = {}): Promise<void> {
  const { prefix = '', qos = 1 } = options;
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i++) pending.push(client.publishAsync(topic, `${prefix}${i}`, { qos }));
  await Promise.all(pending);
}
