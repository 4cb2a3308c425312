/**
 * `$share/{group}/{filter}` for the embedded broker. aedes 1.2 accepts such a
 * subscription and then delivers nothing, so groups are implemented here, beside it:
 *
 * - The subscription itself still goes through aedes (SUBACK, session persistence,
 *   UNSUBSCRIBE, restore on reconnect); its literal `$share/...` filter never matches a
 *   publish because publishing to `$` topics is refused. Our `authorizeSubscribe` hook
 *   calls `join`, the broker's `unsubscribe` event calls `leave`.
 * - Each group (name + filter) has one listener on the broker's emitter: one delivery
 *   decision per message and group, never per member. The member with the fewest
 *   unacknowledged deliveries among the eligible ones wins, ties round-robin. Eligible:
 *   connected (CONNACK sent), socket not asking for drain, and for a QoS 1 delivery
 *   fewer than `maxInflightPerMember` unacknowledged messages (the window, default 20 as
 *   mosquitto's max_inflight_messages; the least loaded member is still chosen first, so a
 *   busy member keeps at most its window from the others). Messages nobody can take
 *   now wait in the group's backlog, bounded: past half the bound, with members
 *   connected, publishers are slowed down (aedes-style backpressure); with no member
 *   connected it fills up and then new messages are dropped with a warning (like
 *   mosquitto's max_queued_messages).
 * - Deliveries are written here, not through aedes: own packet ids drawn from the
 *   client's aedes counter (no collisions with aedes's own deliveries), no aedes dedupe
 *   (a client with a plain and a shared subscription gets both copies), nothing in
 *   aedes's offline store (a persistent member would otherwise get the message again
 *   on reconnect after we handed it to someone else). PUBACKs are seen at the parser.
 * - When a connection closes, its unacknowledged QoS 1 deliveries go back to the head
 *   of their groups' backlogs and on to other members: none lost, none given twice to
 *   a live member. This holds for clean and persistent sessions alike (mosquitto drops
 *   them for clean sessions). A persistent member stays in its group while offline.
 * - Memberships are removed only by the connection that owns them, so a session
 *   takeover (same client id) never loses the new connection's membership.
 * - A group whose last member left keeps its backlog for `emptyGroupLingerMs`, so an
 *   executor that restarts finds its work; after that it is deleted.
 * - Packet ids continue across a client id's connections: MQTT.js sends a PUBACK whose
 *   callback ran while disconnected on the *next* connection, where a reused id would
 *   acknowledge the wrong message.
 *
 * What the runtime must know about MQTT.js 5 (protocol 4) when it acks late, measured:
 * `customHandleAcks` is only consulted for MQTT 5 (aedes speaks 3.1.1); the hook is
 * `client.handleMessage(packet, cb)`: `message` fires first, the PUBACK goes out when
 * `cb()` is called, `cb(err)` sends none. MQTT.js handles incoming packets one at a time,
 * so while `cb` is held nothing else is processed on that connection: no other message,
 * no SUBACK, no PUBACK for the client's own QoS 1 publishes (awaiting one inside the
 * handler deadlocks), no PINGRESP (after ~1.5 x keepalive MQTT.js gives up with
 * "Keepalive timeout", reconnects, and we hand the message to another member). So call
 * `cb(marker)` at once and send the PUBACK later (node-runtime/transport.ts does), on the
 * same connection only: a `cb()` run while disconnected is queued and its PUBACK sent on
 * the next connection. With acks deferred like that, `maxInflightPerMember` (default
 * `DEFAULT_SHARED_INFLIGHT`) is how many inputs an executor connection holds at once.
 * Handed-over messages carry DUP. See docs/BROKER.md.
 *
 * Writes: the deliveries of one tick to one connection go out in one `writev` (the
 * connection is corked until the next tick), so a PUBACK that releases several messages
 * costs one syscall; a large payload goes out as its own buffer, never copied.
 */
import type { Duplex } from 'node:stream';
import type { Aedes, AedesPublishPacket, Client } from 'aedes';
import type { Logger } from 'pino';
import { connectionOf, isGone, isLive, messageIdCounter, setMessageIdCounter, takeMessageId } from './aedes-internals.ts';
import { encodePublishHead } from './publish-encoder.ts';
import { deliveryQos, ShareGroup, ShareMember, type QueueLimits, type SharedMessage } from './share-group.ts';

export interface SharedSubscriptionOptions {
  /** Unacknowledged QoS 1 deliveries per member; a member holding that many is skipped (default `DEFAULT_SHARED_INFLIGHT`). */
  maxInflightPerMember?: number;
  /** Backlog bound per group (defaults: 10,000 messages, 256 MiB). */
  queueLimit?: Partial<QueueLimits>;
  /** How long a group with no member keeps its backlog (default 60 s). */
  emptyGroupLingerMs?: number;
}

export interface ShareGroupInfo {
  group: string;
  filter: string;
  members: number;
  connectedMembers: number;
  queued: number;
  inflight: number;
}

interface Delivery {
  group: ShareGroup;
  member: ShareMember;
  message: SharedMessage;
}

interface Connection {
  /** Unacknowledged QoS 1 deliveries on this connection, by packet id (insertion = send order). */
  inflight: Map<number, Delivery>;
  /** Groups where this connection holds (or held) a membership. */
  groups: Set<ShareGroup>;
}

/**
 * Default in-flight window per member, as mosquitto's `max_inflight_messages`. With a window
 * of 1 a member waits a round trip (delivery, PUBACK) per message, so a group's rate was
 * bounded by round trips, not by work: about 0.45x mosquitto for a group of 3 at 1 KiB.
 */
export const DEFAULT_SHARED_INFLIGHT = 20;

/** Payloads up to this size are copied behind their header (one buffer per delivery); larger ones are written as they are. */
const INLINE_PAYLOAD_BYTES = 16 * 1024;
const ID_MEMORY_LIMIT = 65536;
const WARNING_INTERVAL_MS = 10_000;

/** Ends the cork `deliver` put on a connection: everything written in the tick goes out in one writev. */
function uncork(conn: Duplex): void {
  conn.uncork();
}

export class SharedSubscriptions {
  private readonly groups = new Map<string, ShareGroup>();
  private readonly connections = new Map<Client, Connection>();
  private readonly liveById = new Map<string, Client>();
  private readonly nextIdById = new Map<string, number>();
  private readonly maxInflight: number;
  private readonly limits: QueueLimits;
  private readonly lingerMs: number;
  private closed = false;

  constructor(
    private readonly broker: Aedes,
    private readonly log: Logger,
    options: SharedSubscriptionOptions = {},
  ) {
    this.maxInflight = options.maxInflightPerMember ?? DEFAULT_SHARED_INFLIGHT;
    this.limits = { messages: options.queueLimit?.messages ?? 10_000, bytes: options.queueLimit?.bytes ?? 256 * 1024 * 1024 };
    this.lingerMs = options.emptyGroupLingerMs ?? 60_000;
  }

  /** After authentication: carries packet ids over from the client id's previous connection; a clean session ends old memberships. */
  sessionStarted(client: Client): void {
    if (isGone(client)) return; // closed during authentication: no close event will follow
    const previous = this.liveById.get(client.id);
    const next = previous !== undefined ? messageIdCounter(previous) : this.nextIdById.get(client.id);
    if (next !== undefined) setMessageIdCounter(client, next);
    this.liveById.set(client.id, client);
    if (client.clean) {
      for (const group of this.groups.values()) {
        const member = group.members.get(client.id);
        if (member && member.owner === null) this.removeMember(group, member);
      }
    }
  }

  /** A `$share` subscription was authorised (new, or restored with a persistent session). */
  join(client: Client, name: string, filter: string, qos: 0 | 1, done: () => void): void {
    if (this.closed || isGone(client)) return done(); // its close event has passed or is on its way
    const key = ShareGroup.key(name, filter);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = this.createGroup(name, filter, done);
    } else {
      setImmediate(done);
    }
    if (group.lingerTimer) {
      clearTimeout(group.lingerTimer);
      group.lingerTimer = null;
    }
    const existing = group.members.get(client.id);
    if (existing && existing.owner === client) {
      existing.qos = qos;
    } else {
      if (existing) group.removeMember(existing); // takeover: the old connection's deliveries are handed over when it closes
      group.addMember(new ShareMember(client.id, qos, client));
    }
    this.connection(client).groups.add(group);
    this.log.debug({ clientId: client.id, group: name, filter, qos }, 'shared subscription joined');
    this.pump(group);
  }

  /** The client unsubscribed (or aedes unsubscribed it while closing a clean session). */
  leave(client: Client, name: string, filter: string): void {
    const group = this.groups.get(ShareGroup.key(name, filter));
    const member = group?.members.get(client.id);
    if (!group || !member || member.owner !== client) return;
    this.removeMember(group, member);
    this.log.debug({ clientId: client.id, group: name, filter }, 'shared subscription left');
  }

  /** A PUBACK arrived from the client. Packet ids that are not ours belong to aedes and are ignored. */
  acknowledged(client: Client, messageId: number): void {
    const inflight = this.connections.get(client)?.inflight;
    const delivery = inflight?.get(messageId);
    if (inflight === undefined || delivery === undefined) return;
    inflight.delete(messageId);
    delivery.member.inflight--;
    delivery.group.inflight--;
    this.pump(delivery.group);
  }

  /** The client got its CONNACK, or its socket drained: it may take messages again. */
  resumed(client: Client): void {
    const connection = this.connections.get(client);
    if (connection) for (const group of connection.groups) this.pump(group);
  }

  /** The connection closed: hand its unacknowledged deliveries to other members. */
  connectionClosed(client: Client): void {
    if (this.liveById.get(client.id) === client) {
      this.liveById.delete(client.id);
      this.rememberNextId(client.id, messageIdCounter(client));
    }
    const connection = this.connections.get(client);
    if (connection === undefined) return;
    this.connections.delete(client);
    if (this.closed) return;
    const touched = new Set(connection.groups);
    for (const group of connection.groups) {
      const member = group.members.get(client.id);
      if (member === undefined || member.owner !== client) continue;
      if (client.clean) this.removeMember(group, member);
      else member.owner = null;
    }
    const handedOver = [...connection.inflight.values()];
    for (let i = handedOver.length - 1; i >= 0; i--) {
      const { group, member, message } = handedOver[i]!;
      member.inflight--;
      group.inflight--;
      touched.add(group);
      if (group.deleted) this.log.warn({ group: group.name, filter: group.filter }, 'shared message lost: its group was deleted');
      else group.requeueFront(message.handedOver ? message : { ...message, handedOver: true });
    }
    if (handedOver.length > 0) this.log.info({ clientId: client.id, messages: handedOver.length }, 'unacknowledged shared messages handed to other members');
    for (const group of touched) {
      this.pump(group);
      this.scheduleLinger(group);
    }
  }

  info(): ShareGroupInfo[] {
    return [...this.groups.values()].map((g) => ({
      group: g.name,
      filter: g.filter,
      members: g.members.size,
      connectedMembers: [...g.members.values()].filter((m) => m.owner !== null && isLive(m.owner)).length,
      queued: g.backlog.length,
      inflight: g.inflight,
    }));
  }

  close(): void {
    this.closed = true;
    for (const group of this.groups.values()) {
      if (group.backlog.length > 0) this.log.warn({ group: group.name, filter: group.filter, messages: group.backlog.length }, 'shared backlog dropped at shutdown');
      this.deleteGroup(group);
    }
  }

  private createGroup(name: string, filter: string, done: () => void): ShareGroup {
    const blockDollar = filter.startsWith('+') || filter.startsWith('#');
    const accept = (packet: AedesPublishPacket, next: () => void): void => {
      if (!(blockDollar && packet.topic.startsWith('$'))) {
        this.accept(group, { topic: packet.topic, payload: packet.payload as Buffer, qos: packet.qos, handedOver: false });
      }
      if (this.isCongested(group)) group.held.push(next);
      else setImmediate(next);
    };
    const group = new ShareGroup(name, filter, accept);
    this.groups.set(ShareGroup.key(name, filter), group);
    this.broker.subscribe(filter, accept, done);
    return group;
  }

  private deleteGroup(group: ShareGroup): void {
    group.deleted = true;
    this.releaseHeld(group);
    if (group.lingerTimer) clearTimeout(group.lingerTimer);
    group.lingerTimer = null;
    group.backlog.clear();
    group.backlogBytes = 0;
    this.groups.delete(ShareGroup.key(group.name, group.filter));
    this.broker.unsubscribe(group.filter, group.listener, () => {});
  }

  private removeMember(group: ShareGroup, member: ShareMember): void {
    group.removeMember(member);
    this.releaseHeld(group);
    this.scheduleLinger(group);
  }

  private scheduleLinger(group: ShareGroup): void {
    if (this.closed || group.deleted || group.members.size > 0 || group.lingerTimer) return;
    group.lingerTimer = setTimeout(() => {
      group.lingerTimer = null;
      if (group.members.size > 0) return;
      if (group.inflight > 0) return this.scheduleLinger(group);
      if (group.backlog.length > 0) this.log.warn({ group: group.name, filter: group.filter, messages: group.backlog.length }, 'shared group expired with no member; backlog dropped');
      this.deleteGroup(group);
    }, this.lingerMs);
    group.lingerTimer.unref();
  }

  private accept(group: ShareGroup, message: SharedMessage): void {
    if (this.closed || group.deleted) return;
    if (group.backlog.length === 0) {
      const member = group.pick(message, this.isEligible);
      if (member !== null) return this.deliver(group, member, message);
    }
    if (!group.enqueue(message, this.limits)) this.warnDropped(group);
  }

  private pump(group: ShareGroup): void {
    for (let message = group.backlog.peek(); message !== undefined && !group.deleted; message = group.backlog.peek()) {
      const member = group.pick(message, this.isEligible);
      if (member === null) break;
      group.takeNext();
      this.deliver(group, member, message);
    }
    this.releaseHeld(group);
  }

  /**
   * Past half its bound, a busy group's backlog slows its publishers down, the way aedes
   * slows them for a slow plain subscriber: the emitter callback is held, so aedes reads
   * nothing more from the publisher until the backlog shrinks. Never when no member is
   * connected: then the backlog is a store for absent members and fills up to its bound.
   */
  private isCongested(group: ShareGroup): boolean {
    if (this.closed || group.deleted) return false;
    if (group.backlog.length <= this.limits.messages / 2 && group.backlogBytes <= this.limits.bytes / 2) return false;
    for (const member of group.members.values()) if (member.owner !== null && isLive(member.owner)) return true;
    return false;
  }

  private releaseHeld(group: ShareGroup): void {
    if (group.held.length === 0 || this.isCongested(group)) return;
    for (const next of group.held.splice(0)) setImmediate(next);
  }

  private readonly isEligible = (member: ShareMember, qos: 0 | 1): boolean => {
    const owner = member.owner;
    if (owner === null || !isLive(owner) || connectionOf(owner).writableNeedDrain) return false;
    return qos === 0 || member.inflight < this.maxInflight;
  };

  private deliver(group: ShareGroup, member: ShareMember, message: SharedMessage): void {
    const client = member.owner!;
    const qos = deliveryQos(message, member);
    let messageId = 0;
    if (qos === 1) {
      const connection = this.connection(client);
      do messageId = takeMessageId(client);
      while (connection.inflight.has(messageId));
      connection.inflight.set(messageId, { group, member, message });
      member.inflight++;
      group.inflight++;
    }
    const head = encodePublishHead(message.topic, message.payload.length, qos, messageId, message.handedOver);
    const conn = connectionOf(client);
    if (!conn.writableCorked) {
      conn.cork();
      process.nextTick(uncork, conn);
    }
    if (message.payload.length <= INLINE_PAYLOAD_BYTES) {
      conn.write(Buffer.concat([head, message.payload]));
    } else {
      conn.write(head);
      conn.write(message.payload);
    }
  }

  private connection(client: Client): Connection {
    let connection = this.connections.get(client);
    if (connection === undefined) {
      connection = { inflight: new Map(), groups: new Set() };
      this.connections.set(client, connection);
    }
    return connection;
  }

  private rememberNextId(clientId: string, next: number): void {
    this.nextIdById.delete(clientId);
    this.nextIdById.set(clientId, next);
    if (this.nextIdById.size > ID_MEMORY_LIMIT) this.nextIdById.delete(this.nextIdById.keys().next().value!);
  }

  private warnDropped(group: ShareGroup): void {
    group.droppedSinceWarning++;
    const now = Date.now();
    if (now - group.lastWarningMs < WARNING_INTERVAL_MS) return;
    this.log.warn({ group: group.name, filter: group.filter, dropped: group.droppedSinceWarning, queued: group.backlog.length }, 'shared backlog full; messages dropped');
    group.droppedSinceWarning = 0;
    group.lastWarningMs = now;
  }
}
