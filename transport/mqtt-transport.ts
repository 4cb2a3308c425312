/**
 * The runtime's only door to MQTT: connect, subscribe with per-subscription handlers,
 * publish (resolving when the broker has the message), and acknowledge QoS 1 messages
 * late. MQTT.js acknowledges a QoS 1 message when `handleMessage` calls back, and it
 * processes the next incoming packet only after that; holding the callback would stall
 * every later message, keep-alive responses included. So for subscriptions with
 * `manualAck`, handleMessage calls back at once with a marker that makes MQTT.js skip its
 * PUBACK (the packet pump continues either way), and `message.ack()` sends the PUBACK
 * later — on the same connection only: after a reconnect the broker redelivers, and a
 * stale PUBACK could acknowledge another message that reuses the packet id.
 * This uses MQTT.js internals (`_sendPacket` here, and `_storeAndSend` in mqtt-client.ts to store
 * publishes without copying their payload), pinned by the mqtt version range.
 *
 * Messages are decoded here, at the edge: a handler subscribes for one kind of topic (`on`) and
 * receives the decoded message with the ids its topic carries; a message that does not decode is
 * logged and acknowledged (or handed to the subscriber's `onRefused`), never to the handler.
 * Nothing outside this module and mqtt-client.ts (which builds its client) touches MQTT.js.
 */
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { parseSharedFilter, parseTopic, topicMatches, topics, type ParsedTopic } from '../schemas/topics.ts';
import { MESSAGE_OF_TOPIC, type MessageKind, type TopicMessages, type TopicOf } from '../schemas/topic-messages.ts';
import { EdgeweaveError, toEdgeweaveError } from '../schemas/errors.ts';
import { connectClient } from './mqtt-client.ts';
import { settleWithin } from './settle-within.ts';

import type { TransportOptions, IncomingMessage, MessageHandler, Received, Refused, OnOptions } from './messages.ts';

export type { BrokerConnection, TransportOptions, IncomingMessage, MessageHandler, Received, Refused, OnOptions } from './messages.ts';
export { brokerConnectionOf } from './messages.ts';

interface Subscription {
  /** The filter as subscribed (maybe `$share/...`). */
  filter: string;
  /** The filter topics are matched against (without the `$share/{group}/` prefix). */
  match: string;
  qos: 0 | 1;
  manualAck: boolean;
  handler: MessageHandler;
}

const DEFER_PUBACK = new Error('puback deferred');
/** Messages held for a handler that has not subscribed yet: at most this many, this long. */
const UNCLAIMED_LIMIT = 10_000;
const UNCLAIMED_TTL_MS = 60_000;
/**
 * How long a graceful close may wait for the broker (acknowledgements of what is in flight, the
 * DISCONNECT, the socket's end) before the connection is dropped. A broker that is gone or no
 * longer answers would otherwise hold a stopping process for ever.
 */
export const CLOSE_GRACE_MS = 1000;

export class Transport {
  private readonly subscriptions: Subscription[] = [];
  private readonly deferred = new WeakSet<IPublishPacket>();
  private connectionSeq = 0;
  private closed = false;
  /** Rejects each publish still waiting for the broker; all of them fail when the transport closes. */
  private readonly unsettled = new Set<(err: Error) => void>();

  private debugJson = false;
  private unclaimed: Array<{ message: IncomingMessage; atMs: number }> = [];
  private connectOptions: { url: string; opts: IClientOptions } | undefined;

  private constructor(private readonly client: MqttClient, private readonly log: Logger) {
    client.on('connect', (connack) => {
      this.connectionSeq++;
      // Every reconnect subscribes again, whatever the broker says of the session: a broker that
      // restarted with its sessions in Redis still lost its $share groups (held in memory).
      if (this.connectionSeq > 1) this.resubscribe(connack.sessionPresent);
      // Small messages (acks, reports) must not wait out Nagle's algorithm.
      (client.stream as { setNoDelay?: (v: boolean) => void } | undefined)?.setNoDelay?.(true);
      log.debug({ seq: this.connectionSeq }, 'connected');
      if (this.connectionSeq > 1) for (const handler of this.reconnectHandlers) handler();
    });
    client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
    client.handleMessage = (packet, callback) => {
      if (this.deferred.has(packet)) callback(DEFER_PUBACK);
      else callback();
    };
    client.on('reconnect', () => log.debug('reconnecting'));
    client.on('offline', () => log.debug('offline'));
    // Errors while closing (a write after end, a reset as the socket goes) are expected then.
    client.on('error', (err) => (this.closed ? log.debug({ err }, 'mqtt error while closing') : log.warn({ err }, 'mqtt error')));
  }

  /** Connects; resolves on the first CONNACK, rejects (E_BROKER) if the first attempt fails. */
  static async connect(options: TransportOptions): Promise<Transport> {
    const log = options.log ?? pino({ level: 'silent' });
    const opts: IClientOptions = {
      clientId: options.clientId,
      clean: options.clean ?? true,
      protocolVersion: 4,
      keepalive: options.keepaliveS ?? 30,
      reconnectPeriod: options.reconnectPeriodMs ?? 1000,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      resubscribe: false,
    };
    if (options.username !== undefined) opts.username = options.username;
    if (options.password !== undefined) opts.password = options.password;
    if (options.ca !== undefined) opts.ca = options.ca;
    if (options.rejectUnauthorized !== undefined) opts.rejectUnauthorized = options.rejectUnauthorized;
    if (options.will) opts.will = { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: options.will.qos, retain: options.will.retain };
    const client = connectClient(options.brokerUrl, opts);
    const transport = new Transport(client, log);
    transport.connectOptions = { url: options.brokerUrl, opts };
    transport.debugJson = options.debugJson ?? false;
    await new Promise<void>((resolve, reject) => {
      const onConnect = (): void => { cleanup(); resolve(); };
      const onError = (err: Error): void => {
        cleanup();
        client.end(true);
        reject(new EdgeweaveError('E_BROKER', `cannot connect to ${options.brokerUrl} as ${options.clientId}: ${err.message}`, { cause: err }));
      };
      const onClose = (): void => onError(new Error('connection closed before CONNACK'));
      const cleanup = (): void => {
        client.off('connect', onConnect);
        client.off('error', onError);
        client.off('close', onClose);
      };
      client.once('connect', onConnect);
      client.once('error', onError);
      client.once('close', onClose);
    });
    return transport;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  private readonly reconnectHandlers: Array<() => void> = [];

  /** Calls `handler` after every reconnect (after subscribing again): to announce oneself anew. */
  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  /**
   * Subscribes to `filter`, whose topics are all of `kind`, and hands `handler` each message
   * decoded as that kind's type with its topic's ids. Resolves when the broker has granted the
   * subscription (rejects with E_ACL when refused). A message that does not decode, or whose
   * topic is not of `kind`, goes to `onRefused`, else it is logged and acknowledged.
   */
  async on<K extends MessageKind>(kind: K, filter: string, handler: (received: Received<NoInfer<K>>) => void, options: OnOptions = {}): Promise<void> {
    const codec = MESSAGE_OF_TOPIC[kind] as unknown as { decode(bytes: Uint8Array): TopicMessages[K] };
    const refuse = (m: IncomingMessage, topic: ParsedTopic | undefined, error: EdgeweaveError): void => {
      const refused: Refused = { topic, rawTopic: m.topic, bytes: m.payload.byteLength, error, ack: () => m.ack() };
      if (options.onRefused) return options.onRefused(refused);
      this.log.warn({ err: error, topic: m.topic, bytes: refused.bytes }, 'message refused');
      m.ack();
    };
    await this.subscribe(filter, options.qos ?? 1, (m) => {
      const parsed = parseTopic(m.topic);
      if (parsed?.kind !== kind) return refuse(m, parsed, new EdgeweaveError('E_TOPIC', `${m.topic} is not a ${kind} topic`));
      const topic = parsed as TopicOf<K>;
      let message: TopicMessages[K];
      try {
        message = codec.decode(m.payload);
      } catch (err) {
        return refuse(m, topic, toEdgeweaveError(err, 'E_DECODE'));
      }
      handler({ message, topic, bytes: m.payload.byteLength, payload: m.payload, dup: m.dup, ack: m.ack });
    }, { manualAck: options.manualAck ?? false });
  }

  /**
   * Drops the connection at once, as a crash would: no DISCONNECT, so the broker publishes the
   * last will. Publishes still waiting for the broker reject.
   */
  async kill(): Promise<void> {
    this.client.stream?.destroy();
    await this.close(true);
  }

  /** Subscribes with a raw handler; resolves when the broker has granted it (rejects with E_ACL when refused). */
  private async subscribe(filter: string, qos: 0 | 1, handler: MessageHandler, options: { manualAck?: boolean } = {}): Promise<void> {
    const match = parseSharedFilter(filter)?.filter ?? filter;
    const subscription: Subscription = { filter, match, qos, manualAck: options.manualAck ?? false, handler };
    this.subscriptions.push(subscription);
    this.claim(subscription);
    const granted = await this.client.subscribeAsync(filter, { qos });
    const refused = granted.find((g) => g.qos === 128);
    if (refused) {
      this.subscriptions.splice(this.subscriptions.findIndex((s) => s.filter === filter && s.handler === handler), 1);
      throw new EdgeweaveError('E_ACL', `the broker refused the subscription to ${filter}`);
    }
  }

  private resubscribe(sessionPresent: boolean): void {
    const byFilter = new Map<string, 0 | 1>();
    for (const s of this.subscriptions) byFilter.set(s.filter, Math.max(byFilter.get(s.filter) ?? 0, s.qos) as 0 | 1);
    for (const [filter, qos] of byFilter) {
      this.client.subscribeAsync(filter, { qos }).catch((err: unknown) => this.log.warn({ err, filter }, 'cannot subscribe again after reconnecting'));
    }
    this.log.info({ subscriptions: byFilter.size, sessionPresent }, 'reconnected');
  }

  async unsubscribe(filter: string): Promise<void> {
    for (let i = this.subscriptions.length - 1; i >= 0; i--) if (this.subscriptions[i]!.filter === filter) this.subscriptions.splice(i, 1);
    await this.client.unsubscribeAsync(filter);
  }

  /**
   * Publishes; resolves once the broker has it (PUBACK for QoS 1; written for QoS 0). While
   * disconnected the message waits for the next connection; if the transport closes first, the
   * publish rejects (E_BROKER) instead of waiting for ever.
   */
  async publish(topic: string, payload: Uint8Array, options: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const buffer = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const once = (): Promise<void> => new Promise<void>((resolve, reject) => {
      this.unsettled.add(reject);
      this.client.publish(topic, buffer, { qos: options.qos, retain: options.retain ?? false }, (err) => {
        this.unsettled.delete(reject);
        if (err) reject(err);
        else resolve();
      });
    });
    for (;;) {
      try {
        await once();
        break;
      } catch (err) {
        // MQTT.js fails a QoS 1 publish that a disconnect caught in its resend queue instead of
        // keeping it: it goes again with the next connection, unless this transport is closing.
        if (this.closed || options.qos === 0 || (err as Error).message !== 'Connection closed') throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (this.debugJson) this.mirror(topic, buffer, options.retain ?? false);
  }

  /** The JSON mirror alone (with `debugJson`), for a message another node published for this one (its device, over the local socket). */
  mirrorJson(topic: string, payload: Uint8Array): void {
    if (this.debugJson) this.mirror(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), false);
  }

  /**
   * Best effort, for a last word before closing (an OFFLINE status): publishes only while
   * connected, waits at most `timeoutMs`, never throws. Resolves true if the broker has it.
   * (A publish made while disconnected would wait for a reconnection that a stop never sees.)
   */
  async publishBestEffort(topic: string, payload: Uint8Array, options: { qos: 0 | 1; retain?: boolean }, timeoutMs: number): Promise<boolean> {
    if (this.closed || !this.client.connected) return false;
    let sent = false;
    const publishing = this.publish(topic, payload, options).then(() => { sent = true; }, (err: unknown) => this.log.debug({ err, topic }, 'not sent'));
    await settleWithin(publishing, timeoutMs);
    return sent;
  }

  /** The JSON twin of a published message, for people reading the topic tree (MQTT Explorer). */
  private mirror(topic: string, payload: Buffer, retain: boolean): void {
    const parsed = parseTopic(topic);
    if (!parsed || parsed.kind === 'debug') return;
    try {
      const codec = MESSAGE_OF_TOPIC[parsed.kind] as unknown as { decode(b: Uint8Array): unknown; toJSON(m: unknown): Record<string, unknown> };
      const json = JSON.stringify(codec.toJSON(codec.decode(payload)));
      void this.client.publishAsync(topics.debug(topic), json, { qos: 0, retain }).catch(() => undefined);
    } catch (err) {
      this.log.debug({ err, topic }, 'no JSON mirror for this message');
    }
  }

  /**
   * Disconnects, within about CLOSE_GRACE_MS whatever the broker does. Connected and not
   * `force`: a clean DISCONNECT once what is in flight is acknowledged (the broker then drops the
   * last will). Otherwise, or when that takes too long, the connection is dropped (the broker,
   * if it is there, publishes the last will). Publishes still waiting for the broker reject.
   * With `endSession`, a persistent session is also ended at the broker (a brief clean
   * connection with the same client id), so nothing stays queued for a client that is gone.
   */
  async close(force = false, options: { endSession?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const wasConnected = this.client.connected;
    if (force || !wasConnected) await this.drop();
    else if (!(await settleWithin(this.client.endAsync(false), CLOSE_GRACE_MS))) {
      this.log.debug({ graceMs: CLOSE_GRACE_MS }, 'the broker did not take the disconnect in time; dropping the connection');
      await this.drop();
    }
    const closed = new EdgeweaveError('E_BROKER', 'the connection was closed before the broker had the message');
    for (const reject of this.unsettled) reject(closed);
    this.unsettled.clear();
    const c = this.connectOptions;
    if (options.endSession && wasConnected && c && c.opts.clean === false) await this.endSession(c);
  }

  /** Ends the connection at once, even after a graceful end that is still waiting (MQTT.js then ignores end(true)). */
  private async drop(): Promise<void> {
    const ended = this.client.endAsync(true);
    this.client.stream?.destroy();
    await settleWithin(ended, CLOSE_GRACE_MS);
  }

  private async endSession(c: { url: string; opts: IClientOptions }): Promise<void> {
    const connectTimeout = Math.min(c.opts.connectTimeout ?? CLOSE_GRACE_MS, CLOSE_GRACE_MS);
    const wipe = mqtt.connect(c.url, { ...c.opts, clean: true, reconnectPeriod: 0, connectTimeout, will: undefined });
    wipe.on('error', (err) => this.log.debug({ err }, 'session not ended at the broker'));
    await settleWithin(new Promise<void>((resolve) => {
      wipe.once('connect', () => resolve());
      wipe.once('close', () => resolve());
    }), connectTimeout);
    await settleWithin(wipe.endAsync(true), CLOSE_GRACE_MS);
  }

  private dispatch(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const seq = this.connectionSeq;
    const qos = packet.qos;
    const targets = this.subscriptions.filter((s) => topicMatches(s.match, topic));
    // A message no handler claims yet is held, not acknowledged: with a persistent session the
    // broker delivers what it queued right after CONNACK, before this client has subscribed
    // again; the handler that subscribes next takes it.
    const manual = targets.length === 0 || targets.some((s) => s.manualAck);
    let acked = qos === 0;
    if (!acked && manual) this.deferred.add(packet);
    else acked = true;
    const messageId = packet.messageId;
    const ack = (): void => {
      if (acked) return;
      acked = true;
      if (seq !== this.connectionSeq || !this.client.connected || messageId === undefined) return;
      (this.client as unknown as { _sendPacket(p: object): void })._sendPacket({ cmd: 'puback', messageId });
    };
    // One message can match several subscriptions (a plain and a shared one); with manual
    // acks the message is acknowledged when the first handler acks it.
    const message: IncomingMessage = { topic, payload, qos, dup: packet.dup === true, ack };
    if (targets.length === 0) {
      this.hold(message);
      return;
    }
    this.deliver(message, targets);
  }

  private deliver(message: IncomingMessage, targets: Subscription[]): void {
    for (const s of targets) {
      try {
        s.handler(message);
      } catch (err) {
        // Acknowledged all the same: a message its handler cannot take would otherwise be held
        // for ever, and a $share member with an unacknowledged message receives nothing more.
        this.log.error({ err, topic: message.topic }, 'message handler threw; message acknowledged and dropped');
        message.ack();
      }
    }
    if (!targets.some((s) => s.manualAck)) message.ack();
  }

  private hold(message: IncomingMessage): void {
    this.unclaimed.push({ message, atMs: Date.now() });
    const cutoff = Date.now() - UNCLAIMED_TTL_MS;
    while (this.unclaimed.length > UNCLAIMED_LIMIT || (this.unclaimed[0] && this.unclaimed[0].atMs < cutoff)) {
      const dropped = this.unclaimed.shift()!;
      this.log.warn({ topic: dropped.message.topic }, 'message no handler claimed was dropped (not acknowledged: the broker delivers it again)');
    }
    this.log.debug({ topic: message.topic }, 'message held until a handler subscribes');
  }

  /** Hands held messages to a handler that just subscribed for them. */
  private claim(subscription: Subscription): void {
    const mine = this.unclaimed.filter((u) => topicMatches(subscription.match, u.message.topic));
    if (mine.length === 0) return;
    this.unclaimed = this.unclaimed.filter((u) => !mine.includes(u));
    for (const u of mine) this.deliver(u.message, [subscription]);
  }

}
