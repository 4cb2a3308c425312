/**
 * MQTT 3.1.1 on a raw socket, for conformance tests: packets written byte by byte (client
 * libraries refuse to send most of the malformed ones), a connection that splits what it
 * receives into packets and awaits the next one with a bounded timeout, and assertions on how
 * a server answers a CONNECT (accepted, refused with a return code, closed without a word).
 */
import { strict as assert } from 'node:assert';
import { connect as connectTcp, type Socket } from 'node:net';
import { withTimeout } from './mqtt.ts';

export const WAIT_MS = 5_000;

// ---- packets, by hand -------------------------------------------------------------

/** A UTF-8 string (or raw bytes) with its two-byte length prefix. */
export function lengthPrefixed(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(bytes.length);
  return Buffer.concat([prefix, bytes]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** Fixed header (first byte + remaining-length varint) and body. */
export function frame(firstByte: number, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  const length: number[] = [];
  let n = payload.length;
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    length.push(digit);
  } while (n > 0);
  return Buffer.concat([Buffer.from([firstByte, ...length]), payload]);
}

export interface ConnectSpec {
  clientId: string | Buffer;
  clean?: boolean;
  protocolName?: string;
  protocolLevel?: number;
  keepaliveS?: number;
  will?: { topic: string; payload: string; qos: number; retain?: boolean };
  username?: string;
  password?: string;
  /** Connect flags as sent, instead of the ones the fields above imply. */
  flags?: number;
}

export function connectPacket(spec: ConnectSpec): Buffer {
  const { will } = spec;
  const impliedFlags =
    (spec.username !== undefined ? 0x80 : 0) |
    (spec.password !== undefined ? 0x40 : 0) |
    (will ? (will.retain ? 0x20 : 0) | (will.qos << 3) | 0x04 : 0) |
    (spec.clean === false ? 0 : 0x02);
  return frame(
    0x10,
    lengthPrefixed(spec.protocolName ?? 'MQTT'),
    Buffer.from([spec.protocolLevel ?? 4, spec.flags ?? impliedFlags]),
    u16(spec.keepaliveS ?? 30),
    lengthPrefixed(spec.clientId),
    ...(will ? [lengthPrefixed(will.topic), lengthPrefixed(will.payload)] : []),
    ...(spec.username !== undefined ? [lengthPrefixed(spec.username)] : []),
    ...(spec.password !== undefined ? [lengthPrefixed(spec.password)] : []),
  );
}

export const subscribePacket = (packetId: number, filter: string, qos: number): Buffer => frame(0x82, u16(packetId), lengthPrefixed(filter), Buffer.from([qos]));
export const publishQos1Packet = (packetId: number, topic: string, payload: string): Buffer => frame(0x32, lengthPrefixed(topic), u16(packetId), Buffer.from(payload));
export const PINGREQ = frame(0xc0);

export const PACKET_TYPE = { connack: 2, publish: 3, puback: 4, suback: 9, pingresp: 13 } as const;

export interface Frame {
  type: number;
  flags: number;
  body: Buffer;
}

/** Splits the bytes a connection received into MQTT packets (null while the next one is incomplete). */
function takeFrame(bytes: Buffer): { frame: Frame; rest: Buffer } | null {
  if (bytes.length < 2) return null;
  let length = 0;
  let i = 1;
  for (let multiplier = 1; ; multiplier *= 128) {
    if (i >= bytes.length) return null;
    const digit = bytes[i++]!;
    length += (digit & 0x7f) * multiplier;
    if ((digit & 0x80) === 0) break;
  }
  if (bytes.length < i + length) return null;
  const first = bytes[0]!;
  return { frame: { type: first >> 4, flags: first & 0x0f, body: bytes.subarray(i, i + length) }, rest: bytes.subarray(i + length) };
}

// ---- a raw MQTT connection ----------------------------------------------------------

export class RawConnection {
  readonly frames: Frame[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private read = 0;
  private waiters: Array<() => void> = [];
  private readonly whenClosed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      for (let taken = takeFrame(this.pending); taken !== null; taken = takeFrame(this.pending)) {
        this.frames.push(taken.frame);
        this.pending = taken.rest;
      }
      this.wake();
    });
    socket.on('error', () => {}); // a reset after a refusal is expected; `closed` reports the end
    this.whenClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.whenClosed.then(() => this.wake());
  }

  static open(port: number): Promise<RawConnection> {
    return withTimeout(
      new Promise((resolve, reject) => {
        const socket = connectTcp(port, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve(new RawConnection(socket));
        });
        socket.once('error', reject);
      }),
      WAIT_MS,
      `connecting to 127.0.0.1:${port}`,
    );
  }

  send(...packets: Buffer[]): void {
    for (const p of packets) this.socket.write(p);
  }

  /** The next packet not yet returned; rejects if the connection closes first. */
  async next(what: string): Promise<Frame> {
    const wait = new Promise<Frame>((resolve, reject) => {
      const check = (): boolean => {
        const f = this.frames[this.read];
        if (f !== undefined) {
          this.read++;
          resolve(f);
          return true;
        }
        if (this.socket.closed) {
          reject(new Error(`connection closed while waiting for ${what}`));
          return true;
        }
        return false;
      };
      if (!check()) this.waiters.push(() => void check());
    });
    return withTimeout(wait, WAIT_MS, `waiting for ${what}`);
  }

  /** Resolves once the server has closed the connection. */
  closed(): Promise<void> {
    return withTimeout(this.whenClosed, WAIT_MS, 'waiting for the server to close the connection');
  }

  get isOpen(): boolean {
    return !this.socket.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

async function readConnack(conn: RawConnection): Promise<{ sessionPresent: boolean; returnCode: number }> {
  const f = await conn.next('CONNACK');
  assert.equal(f.type, PACKET_TYPE.connack, `expected CONNACK, got packet type ${f.type}`);
  assert.equal(f.body.length, 2);
  return { sessionPresent: (f.body[0]! & 0x01) === 1, returnCode: f.body[1]! };
}

export async function assertAccepted(conn: RawConnection): Promise<void> {
  assert.deepEqual(await readConnack(conn), { sessionPresent: false, returnCode: 0 });
}

/** CONNACK with `returnCode` (and session present 0 [MQTT-3.2.2-4]), then the server closes [MQTT-3.2.2-5]. */
export async function assertRefused(conn: RawConnection, returnCode: number): Promise<void> {
  assert.deepEqual(await readConnack(conn), { sessionPresent: false, returnCode });
  await conn.closed();
  assert.equal(conn.frames.length, 1, 'nothing after the refusing CONNACK');
}

/** The server closes without sending anything. */
export async function assertClosedSilently(conn: RawConnection, afterFrames = 0): Promise<void> {
  await conn.closed();
  assert.deepEqual(
    conn.frames.slice(afterFrames).map((f) => f.type),
    [],
    'nothing sent before closing',
  );
}

export async function assertAlive(conn: RawConnection): Promise<void> {
  conn.send(PINGREQ);
  assert.equal((await conn.next('PINGRESP')).type, PACKET_TYPE.pingresp);
}
