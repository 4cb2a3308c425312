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
 *   only alternative, closing the connection;
 * - `client.conn` (`connectionOf`), written to directly for the CONNACKs of
 *   connect-rules.ts, before aedes has answered anything on that connection;
 * - the order of aedes's CONNECT handling: `preConnect` runs before aedes reads
 *   `packet.clientId` (connect-rules.ts assigns empty ids by setting it) and before
 *   anything of the session is touched (so a refusal there leaves no trace);
 * - `client.duplicates`, `client.deliver0` and `client.deliverQoS`: aedes's duplicate
 *   filter, replaced by an exact one (`dedupeDeliveriesExactly`, which says why).
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
  duplicates: Record<string, number>;
  deliver0: Deliver;
  deliverQoS: Deliver;
}

/** What aedes hands a client's delivery functions: a publish numbered by the broker that emitted it. */
interface DeliveredPacket {
  /** The emitting broker instance; null for retained messages sent on SUBSCRIBE (never deduplicated). */
  brokerId?: string | null;
  /** That broker's number for the publish, given when the publish started. */
  brokerCounter?: number;
  qos?: number;
}

type Deliver = (packet: DeliveredPacket, done: () => void) => void;

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

/** aedes's per-client high-water marks, always empty: its own duplicate check then never drops anything. */
const NOTHING_SEEN: Record<string, number> = new Proxy(Object.create(null) as Record<string, number>, {
  get: () => undefined,
  set: () => true,
  deleteProperty: () => true,
});

/** Deliveries remembered per client. The copies of one publish arrive back to back (see below), so a few are plenty. */
const REMEMBERED_DELIVERIES = 8;

/**
 * Replaces aedes's duplicate filter for one client by an exact one, before the client's
 * CONNECT is handled (its subscriptions capture these functions).
 *
 * aedes 1.2 numbers a publish (brokerId, brokerCounter) when the publish starts, and drops a
 * delivery to a client as a duplicate when its number is not above the highest that client
 * was sent (`dedupe` in aedes/lib/client.js). That assumes publishes are emitted in the order
 * they were numbered, which they are not: a QoS 1 publish is stored for every persistent
 * subscriber first (with Redis, one round trip per subscriber), a retained one is stored, a
 * QoS 0 one is emitted at once. So a result with three persistent subscribers was overtaken by
 * a plan with one, and the result was then silently dropped for every client subscribed to
 * both (it stayed queued in the session, delivered only at the next reconnect). Upstream:
 * moscajs/aedes#955, #994.
 *
 * What the filter is for is one delivery per publish when several of a client's subscriptions
 * match it. mqemitter calls all matching listeners of one publish in one synchronous loop, each
 * with its own copy of the packet, so those copies reach the client back to back: a copy is a
 * delivery whose number was among the last few this client was sent. Packets without a broker
 * id (retained messages sent on SUBSCRIBE) pass, as they do in aedes.
 */
export function dedupeDeliveriesExactly(client: Client): void {
  const c = internalsOf(client);
  c.duplicates = NOTHING_SEEN;
  const ids: Array<string | undefined> = new Array<string | undefined>(REMEMBERED_DELIVERIES).fill(undefined);
  const counters: number[] = new Array<number>(REMEMBERED_DELIVERIES).fill(0);
  let next = 0;
  const isCopy = (packet: DeliveredPacket): boolean => {
    const id = packet.brokerId;
    const counter = packet.brokerCounter;
    if (!id || counter === undefined) return false;
    for (let i = 0; i < REMEMBERED_DELIVERIES; i++) if (counters[i] === counter && ids[i] === id) return true;
    ids[next] = id;
    counters[next] = counter;
    next = (next + 1) % REMEMBERED_DELIVERIES;
    return false;
  };
  const deliver0 = c.deliver0;
  const deliverQoS = c.deliverQoS;
  c.deliver0 = (packet, done) => {
    if (isCopy(packet)) setImmediate(done);
    else deliver0(packet, done);
  };
  c.deliverQoS = (packet, done) => {
    // aedes hands a QoS 0 packet on to `client.deliver0` (the function above), which checks it.
    if (packet.qos !== 0 && isCopy(packet)) setImmediate(done);
    else deliverQoS(packet, done);
  };
}
