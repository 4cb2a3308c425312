/**
 * The CONNECT rules of MQTT 3.1.1 (section 3.1) that aedes 1.2 does not enforce itself,
 * checked before aedes acts on a CONNECT:
 *
 * - aedes gives every empty client id a generated one (`aedes_<uuid>`), also with clean
 *   session 0, where [MQTT-3.1.3-8] requires CONNACK 0x02 and a close (the session could
 *   never be resumed), and also for MQTT 3.1, whose ids are 1-23 characters;
 * - its parser (mqtt-packet) closes a connection whose protocol level it does not know
 *   without the CONNACK 0x01 that [MQTT-3.1.2-2] requires first;
 * - it accepts a will QoS of 3 [MQTT-3.1.2-14], a password without a user name
 *   [MQTT-3.1.2-22] and U+0000 in the client id, will topic or user name [MQTT-1.5.3-2],
 *   all protocol violations that must close the connection.
 *
 * `checkConnect` and `ProtocolLevelScanner` are pure; `installConnectRules` applies the
 * first as aedes's `preConnect` hook and `start.ts` feeds the second the raw bytes.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { connectionOf } from './aedes-internals.ts';

export const CONNACK_RETURN_CODE = { unacceptableProtocolLevel: 1, identifierRejected: 2 } as const;
export type RefusalReturnCode = (typeof CONNACK_RETURN_CODE)[keyof typeof CONNACK_RETURN_CODE];

/** The fields of a parsed CONNECT the rules read. */
export interface ConnectFields {
  protocolVersion?: number | undefined;
  clientId: string;
  clean?: boolean | undefined;
  username?: string | undefined;
  password?: Buffer | undefined;
  will?: { topic: string; qos?: number | undefined } | undefined;
}

export type ConnectVerdict =
  | { kind: 'accept' }
  /** Answer with a CONNACK carrying `returnCode`, then close. */
  | { kind: 'refuse'; returnCode: RefusalReturnCode; rule: string; reason: string }
  /** A protocol violation: close without a CONNACK. */
  | { kind: 'close'; rule: string; reason: string };

const MQTT_31 = 3;
const MQTT_5 = 5;

export function checkConnect(packet: ConnectFields): ConnectVerdict {
  // MQTT 5: aedes 1.2 answers CONNACK 0x01 (unacceptable protocol level) itself
  if (packet.protocolVersion === MQTT_5) return { kind: 'accept' };
  const strings = [packet.clientId, packet.will?.topic, packet.username];
  if (strings.some((s) => s?.includes('\u0000'))) {
    return { kind: 'close', rule: 'MQTT-1.5.3-2', reason: 'U+0000 in the client id, will topic or user name' };
  }
  if (packet.password !== undefined && packet.username === undefined) {
    return { kind: 'close', rule: 'MQTT-3.1.2-22', reason: 'password flag set without the user name flag' };
  }
  if (packet.will !== undefined && packet.will.qos === 3) {
    return { kind: 'close', rule: 'MQTT-3.1.2-14', reason: 'will QoS 3' };
  }
  if (packet.clientId === '' && packet.protocolVersion === MQTT_31) {
    return { kind: 'refuse', returnCode: CONNACK_RETURN_CODE.identifierRejected, rule: 'MQTT 3.1: client ids are 1-23 characters', reason: 'empty client id with MQTT 3.1' };
  }
  if (packet.clientId === '' && packet.clean !== true) {
    return { kind: 'refuse', returnCode: CONNACK_RETURN_CODE.identifierRejected, rule: 'MQTT-3.1.3-8', reason: 'empty client id with clean session 0' };
  }
  return { kind: 'accept' };
}

/**
 * The id the broker assigns to a client that sent an empty one (with clean session 1):
 * `<user>.<uuid>` when it sent a user name, so that under `--auth` the id belongs to that
 * user; null without one (aedes then assigns `aedes_<uuid>`).
 */
export function assignedClientId(username: string | undefined, uuid: string): string | null {
  return username === undefined ? null : `${username}.${uuid}`;
}

/** Protocol levels that get past the parser: 3 (3.1), 4 (3.1.1), 5 (aedes answers CONNACK 0x01 itself). */
const PARSED_LEVELS = new Set([3, 4, 5]);
const PROTOCOL_NAMES = new Set(['MQTT', 'MQIsdp']);
const BRIDGE_FLAG = 0x80;
/** Fixed header (1), remaining length (<= 4), name length (2), name (<= 6), level (1). */
const MAX_HEAD_BYTES = 14;
const PENDING = 'pending';

/**
 * Reads the beginning of a connection's byte stream: the protocol level of its first
 * packet when that is a CONNECT for protocol `MQTT` or `MQIsdp` whose level the parser
 * would refuse (so the caller can answer CONNACK 0x01), null when it is anything else
 * (other names, other packets and malformed headers are left to the parser), `pending`
 * until enough bytes have arrived.
 */
export function unsupportedProtocolLevel(head: ArrayLike<number>): number | null | typeof PENDING {
  if (head.length < 1) return PENDING;
  if (head[0] !== 0x10) return null;
  let i = 1;
  let remaining = 0;
  for (let multiplier = 1; ; multiplier *= 128) {
    if (i >= head.length) return PENDING;
    const byte = head[i++]!;
    remaining += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) break;
    if (i > 4) return null;
  }
  if (i + 2 > head.length) return PENDING;
  const nameBytes = (head[i]! << 8) | head[i + 1]!;
  if (nameBytes !== 4 && nameBytes !== 6) return null;
  if (2 + nameBytes + 1 > remaining) return null;
  const levelAt = i + 2 + nameBytes;
  if (levelAt >= head.length) return PENDING;
  let name = '';
  for (let k = i + 2; k < levelAt; k++) name += String.fromCharCode(head[k]!);
  if (!PROTOCOL_NAMES.has(name)) return null;
  const level = head[levelAt]!;
  return PARSED_LEVELS.has(level & ~BRIDGE_FLAG) ? null : level;
}

/** `unsupportedProtocolLevel` over a stream of chunks: decides once, from the first bytes. */
export class ProtocolLevelScanner {
  private readonly head: number[] = [];
  private decided = false;

  /** Feeds the next chunk; returns the unsupported protocol level once it is known, else null. */
  scan(chunk: Uint8Array): number | null {
    if (this.decided) return null;
    for (let k = 0; k < chunk.length && this.head.length < MAX_HEAD_BYTES; k++) this.head.push(chunk[k]!);
    const verdict = unsupportedProtocolLevel(this.head);
    if (verdict === PENDING) return null;
    this.decided = true;
    return verdict;
  }
}

/**
 * Writes a refusing CONNACK (session present 0 [MQTT-3.2.2-4]) and closes the connection
 * once it is written [MQTT-3.2.2-5]. Resolves when the connection is closed.
 */
function refuseConnection(conn: Duplex, returnCode: RefusalReturnCode): Promise<void> {
  return new Promise((resolve) => {
    if (conn.destroyed) return resolve();
    conn.once('close', () => resolve());
    conn.write(Buffer.from([0x20, 0x02, 0x00, returnCode]), () => conn.destroy());
  });
}

/** Answers a CONNECT whose protocol level `ProtocolLevelScanner` found unsupported: CONNACK 0x01, close [MQTT-3.1.2-2]. */
export function refuseProtocolLevel(conn: Duplex, protocolLevel: number, log: Logger): void {
  const returnCode = CONNACK_RETURN_CODE.unacceptableProtocolLevel;
  log.warn({ protocolLevel, returnCode, rule: 'MQTT-3.1.2-2', reason: 'unsupported protocol level', code: 'E_UNSUPPORTED' }, 'connection refused');
  void refuseConnection(conn, returnCode);
}

/**
 * Installs `checkConnect` as aedes's `preConnect` hook: refusals get their CONNACK and
 * close, violations close, and an accepted empty client id is assigned here (see
 * `assignedClientId`). A refused CONNECT never reaches authentication or the session store.
 */
export function installConnectRules(broker: Aedes, log: Logger): void {
  broker.preConnect = (client, packet, done) => {
    const verdict = checkConnect(packet);
    switch (verdict.kind) {
      case 'accept': {
        if (packet.clientId === '') {
          // aedes reads the id from the packet after this hook (see aedes-internals.ts)
          const assigned = assignedClientId(packet.username, randomUUID());
          if (assigned !== null) packet.clientId = assigned;
        }
        done(null, true);
        return;
      }
      case 'refuse': {
        const { returnCode, rule, reason } = verdict;
        log.warn({ clientId: packet.clientId, user: packet.username ?? null, returnCode, rule, reason, code: 'E_UNSUPPORTED' }, 'connection refused');
        const error = new Error(`connection refused: ${reason} [${rule}]`);
        // a failed hook makes aedes drop the connection at once, so the CONNACK goes out (and the connection closes) first
        void refuseConnection(connectionOf(client), returnCode).then(() => done(error, false));
        return;
      }
      case 'close':
        done(new Error(`protocol violation: ${verdict.reason} [${verdict.rule}]`), false);
        return;
    }
  };
}
