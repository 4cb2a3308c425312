/**
 * Every use of aedes internals, in one place. aedes 1.2.0 is pinned in package.json;
 * `checkAedesVersion` refuses to start with another version, because these fields are
 * not part of its public API:
 *
 * - `client._parser` (an mqtt-packet Parser): we listen to its `packet` events to see
 *   PUBACKs for our own `$share` deliveries, and wrap its `parse` to refuse oversized
 *   packets before they are buffered;
 * - `client._nextId`: the per-connection packet-id counter aedes uses for its own QoS
 *   deliveries; `$share` deliveries draw from the same counter so ids never collide;
 * - `client._will`: the will of a connecting client, checked against the ACL during
 *   authentication (aedes stores it before it is ever authorised);
 * - `broker.publish`: wrapped on the instance so a publish refused by the ACL is
 *   acknowledged and dropped (MQTT 3.1.1 has no negative PUBACK) instead of aedes's
 *   only alternative, closing the connection.
 */
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Aedes, Client, PublishPacket } from 'aedes';
import { EdgeweaveError } from '../schemas/errors.ts';

export const PINNED_AEDES_VERSION = '1.2.0';

interface ParserInternals extends EventEmitter {
  parse(buf: Buffer): number;
}

interface ClientInternals {
  _parser: ParserInternals;
  _nextId: number;
  _will: { topic: string; payload: Buffer; qos: number; retain: boolean } | null | undefined;
  conn: Duplex;
  closed: boolean;
  connected: boolean;
}

/** A packet as the parser emits it; only the fields we read. */
export interface ParsedPacket {
  cmd: string;
  messageId?: number;
}

type PublishDone = (error?: Error) => void;
type PublishFn = (packet: PublishPacket, client?: Client | PublishDone | null, done?: PublishDone) => void;

function internalsOf(client: Client): ClientInternals {
  return client as unknown as ClientInternals;
}

export function checkAedesVersion(broker: Aedes): void {
  const version = (broker as unknown as { version: string }).version;
  if (version !== PINNED_AEDES_VERSION) {
    throw new EdgeweaveError('E_BROKER', `aedes ${version} is installed but broker/ relies on internals of aedes ${PINNED_AEDES_VERSION}; pin it back or review broker/aedes-internals.ts`);
  }
}

/** Calls `onPacket` for every packet the client sends, as it is parsed (before aedes handles it). */
export function observePackets(client: Client, onPacket: (packet: ParsedPacket) => void): void {
  internalsOf(client)._parser.on('packet', onPacket);
}

/**
 * Puts `inspect` in front of the client's parser. When it returns false the chunk is
 * not parsed (the caller is expected to close the connection).
 */
export function guardParser(client: Client, inspect: (chunk: Buffer) => boolean): void {
  const parser = internalsOf(client)._parser;
  const parse = parser.parse.bind(parser);
  parser.parse = (chunk: Buffer): number => (inspect(chunk) ? parse(chunk) : 0);
}

/** Takes the next packet id from the client's own counter (1..65535, wrapping like aedes). */
export function takeMessageId(client: Client): number {
  const c = internalsOf(client);
  const id = c._nextId;
  c._nextId = id >= 65535 ? 1 : id + 1;
  return id;
}

export function messageIdCounter(client: Client): number {
  return internalsOf(client)._nextId;
}

export function setMessageIdCounter(client: Client, next: number): void {
  if (Number.isInteger(next) && next >= 1 && next <= 65535) internalsOf(client)._nextId = next;
}

/** The will a connecting client asked for, if any. */
export function pendingWill(client: Client): { topic: string; payloadBytes: number } | null {
  const will = internalsOf(client)._will;
  return will ? { topic: will.topic, payloadBytes: will.payload?.length ?? 0 } : null;
}

/** True while the client has a CONNACK behind it and its connection is open. */
export function isLive(client: Client): boolean {
  const c = internalsOf(client);
  return c.connected && !c.closed && !c.conn.destroyed;
}

/** True once the client's connection is closing or gone (no more events will come for it). */
export function isGone(client: Client): boolean {
  const c = internalsOf(client);
  return c.closed || c.conn.destroyed;
}

export function connectionOf(client: Client): Duplex {
  return internalsOf(client).conn;
}

/** Makes `broker.publish` skip (acknowledge and drop) packets for which `isRefused` is true. */
export function dropRefusedPublishes(broker: Aedes, isRefused: (packet: PublishPacket) => boolean): void {
  const target = broker as unknown as { publish: PublishFn };
  const publish = target.publish.bind(broker);
  target.publish = (packet, client, done) => {
    if (!isRefused(packet)) {
      publish(packet, client, done);
      return;
    }
    const callback = typeof client === 'function' ? client : done;
    if (callback) setImmediate(callback);
  };
}
