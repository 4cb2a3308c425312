/**
 * What the transport's users see of it: the one connection-options type every node takes, and
 * the messages a handler receives — raw (inside the transport) or decoded with their topic's ids.
 */
import type { Logger } from 'pino';
import type { ParsedTopic } from '../schemas/topics.ts';
import type { MessageKind, TopicMessages, TopicOf } from '../schemas/topic-messages.ts';
import type { EdgeweaveError } from '../schemas/errors.ts';

/** Where the broker is and how to log in: the one connection-options type of every node. */
export interface BrokerConnection {
  /** mqtt://, mqtts://, ws:// or wss:// */
  brokerUrl: string;
  username?: string | undefined;
  password?: string | undefined;
  /** CA certificate(s) to trust for TLS (mqtts:// or wss://), PEM. */
  ca?: string | Buffer | undefined;
}

/** The connection fields of `options` that are set (the rest of `options` left out). */
export function brokerConnectionOf(options: BrokerConnection): BrokerConnection {
  const out: BrokerConnection = { brokerUrl: options.brokerUrl };
  if (options.username !== undefined) out.username = options.username;
  if (options.password !== undefined) out.password = options.password;
  if (options.ca !== undefined) out.ca = options.ca;
  return out;
}

export interface TransportOptions extends BrokerConnection {
  clientId: string;
  /** false: a persistent session; the broker keeps subscriptions and queued QoS 1 messages while away. */
  clean?: boolean;
  will?: { topic: string; payload: Uint8Array; qos: 0 | 1; retain: boolean };
  rejectUnauthorized?: boolean;
  keepaliveS?: number;
  reconnectPeriodMs?: number;
  connectTimeoutMs?: number;
  /** Mirror every edgeweave message this client publishes as JSON under edgeweave/v1/debug/... (QoS 0). */
  debugJson?: boolean;
  log?: Logger;
}

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  /** The broker says it delivered this before (a redelivery after a reconnect). */
  dup: boolean;
  /** Acknowledges the message (a no-op for QoS 0, for auto-acked subscriptions, and after a reconnect). */
  ack(): void;
}

export type MessageHandler = (message: IncomingMessage) => void;

/** A message as a handler receives it: decoded, with its topic's ids. */
export interface Received<K extends MessageKind> {
  message: TopicMessages[K];
  /** The topic's kind and ids (device, origin, job, ...). */
  topic: TopicOf<K>;
  /** Size on the wire; 0 for an empty retained message (a topic cleared). */
  bytes: number;
  /** The bytes as received, to hand on unchanged. */
  payload: Buffer;
  /** The broker says it delivered this before (a redelivery after a reconnect). */
  dup: boolean;
  /** Acknowledges the message (see IncomingMessage.ack). */
  ack(): void;
}

/** A message that did not decode as its topic's type, or came on a topic that is not of the kind subscribed. */
export interface Refused {
  /** The topic's kind and ids when the topic itself is well formed. */
  topic: ParsedTopic | undefined;
  rawTopic: string;
  bytes: number;
  error: EdgeweaveError;
  ack(): void;
}

export interface OnOptions {
  /** Default 1. */
  qos?: 0 | 1;
  /** The handler acknowledges (QoS 1): a message unacknowledged when the connection drops is delivered again. */
  manualAck?: boolean;
  /** Called instead of logging when a message is refused; it must ack() when `manualAck`. */
  onRefused?: (refused: Refused) => void;
}
