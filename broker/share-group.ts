/**
 * One `$share` group: its members, its backlog and the choice of who gets the next
 * message. No I/O; the dispatcher (shared-subscriptions.ts) owns connections and writes.
 */
import type { AedesPublishPacket, Client } from 'aedes';
import { Deque } from './deque.ts';

/** A message waiting for, or held by, a member of a group. Fixed shape. */
export interface SharedMessage {
  topic: string;
  payload: Buffer;
  /** The QoS it was published with; each delivery uses min(this, member's granted QoS). */
  qos: 0 | 1 | 2;
  /** Given to a member whose connection then closed unacknowledged: delivered again with DUP set. */
  handedOver: boolean;
}

export class ShareMember {
  /** The live connection holding this membership; null while a persistent session is offline. */
  owner: Client | null;
  /** QoS 1 deliveries to this member not yet acknowledged. */
  inflight = 0;

  constructor(
    readonly clientId: string,
    public qos: 0 | 1,
    owner: Client,
  ) {
    this.owner = owner;
  }
}

export interface QueueLimits {
  messages: number;
  bytes: number;
}

export class ShareGroup {
  readonly members = new Map<string, ShareMember>();
  readonly backlog = new Deque<SharedMessage>();
  backlogBytes = 0;
  /** QoS 1 deliveries of this group not yet acknowledged, over all connections. */
  inflight = 0;
  /** Messages refused because the backlog was full, since the last warning. */
  droppedSinceWarning = 0;
  lastWarningMs = 0;
  lingerTimer: NodeJS.Timeout | null = null;
  /** Emitter callbacks held back while the backlog is past its high-water mark (publisher backpressure). */
  readonly held: Array<() => void> = [];
  deleted = false;
  private order: ShareMember[] = [];
  private cursor = 0;

  constructor(
    readonly name: string,
    readonly filter: string,
    /** The mqemitter listener that feeds this group; kept to unsubscribe it. */
    readonly listener: (packet: AedesPublishPacket, done: () => void) => void,
  ) {}

  static key(name: string, filter: string): string {
    return `${name}\u0000${filter}`;
  }

  addMember(member: ShareMember): void {
    this.members.set(member.clientId, member);
    this.order = [...this.members.values()];
  }

  removeMember(member: ShareMember): void {
    if (this.members.get(member.clientId) !== member) return;
    this.members.delete(member.clientId);
    this.order = [...this.members.values()];
    if (this.cursor >= this.order.length) this.cursor = 0;
  }

  /** Appends to the backlog unless it is full; returns false when the message was refused. */
  enqueue(message: SharedMessage, limits: QueueLimits): boolean {
    if (this.backlog.length >= limits.messages || this.backlogBytes + message.payload.length > limits.bytes) return false;
    this.backlog.push(message);
    this.backlogBytes += message.payload.length;
    return true;
  }

  /** Puts a handed-over message back at the head of the backlog (never refused: it was admitted once). */
  requeueFront(message: SharedMessage): void {
    this.backlog.unshift(message);
    this.backlogBytes += message.payload.length;
  }

  takeNext(): SharedMessage | undefined {
    const message = this.backlog.shift();
    if (message) this.backlogBytes -= message.payload.length;
    return message;
  }

  /**
   * The member that should get `message`: among eligible members, the one with the
   * fewest unacknowledged deliveries; ties go round-robin from where the last choice left off.
   */
  pick(message: SharedMessage, isEligible: (member: ShareMember, qos: 0 | 1) => boolean): ShareMember | null {
    const n = this.order.length;
    let best: ShareMember | null = null;
    let bestIndex = -1;
    for (let k = 0; k < n; k++) {
      const index = (this.cursor + k) % n;
      const member = this.order[index]!;
      if (!isEligible(member, deliveryQos(message, member))) continue;
      if (best === null || member.inflight < best.inflight) {
        best = member;
        bestIndex = index;
        if (member.inflight === 0) break;
      }
    }
    if (best !== null) this.cursor = (bestIndex + 1) % n;
    return best;
  }
}

/** The QoS a message is delivered with to a member: the lower of the publish and the grant. */
export function deliveryQos(message: SharedMessage, member: ShareMember): 0 | 1 {
  return message.qos === 0 || member.qos === 0 ? 0 : 1;
}
