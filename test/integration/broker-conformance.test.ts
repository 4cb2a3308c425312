import { strict as assert } from 'node:assert';
import { connect as connectTcp, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { emptyAuthFile, hashPassword, startBroker, withUser, type BrokerHandle } from '../../broker/index.ts';
import { captureLogger, type CapturedLog } from '../support/log.ts';
import { mosquittoMissing, startMosquitto } from '../support/mosquitto.ts';
import { withTimeout } from '../support/mqtt.ts';

// The CONNECT rules of MQTT 3.1.1 section 3.1 that a conformance suite (Eclipse Paho's
// interoperability tests) checks, with packets written byte by byte on a raw socket:
// client libraries refuse to send most of these (MQTT.js will not send an empty client
// id with clean session 0). The same cases run against mosquitto as the reference.

const WAIT_MS = 5_000;
const HOOK_TIMEOUT = { timeout: 20_000 };

// ---- packets, by hand -------------------------------------------------------------

/** A UTF-8 string (or raw bytes) with its two-byte length prefix. */
function lengthPrefixed(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(bytes.length);
  return Buffer.concat([prefix, bytes]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** Fixed header (first byte + remaining-length varint) and body. */
function frame(firstByte: number, ...body: Buffer[]): Buffer {
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

interface ConnectSpec {
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

function connectPacket(spec: ConnectSpec): Buffer {
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

const subscribePacket = (packetId: number, filter: string, qos: number): Buffer => frame(0x82, u16(packetId), lengthPrefixed(filter), Buffer.from([qos]));
const publishQos1Packet = (packetId: number, topic: string, payload: string): Buffer => frame(0x32, lengthPrefixed(topic), u16(packetId), Buffer.from(payload));
const PINGREQ = frame(0xc0);

const PACKET_TYPE = { connack: 2, publish: 3, puback: 4, suback: 9, pingresp: 13 } as const;

interface Frame {
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

class RawConnection {
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

async function assertAccepted(conn: RawConnection): Promise<void> {
  assert.deepEqual(await readConnack(conn), { sessionPresent: false, returnCode: 0 });
}

/** CONNACK with `returnCode` (and session present 0 [MQTT-3.2.2-4]), then the server closes [MQTT-3.2.2-5]. */
async function assertRefused(conn: RawConnection, returnCode: number): Promise<void> {
  assert.deepEqual(await readConnack(conn), { sessionPresent: false, returnCode });
  await conn.closed();
  assert.equal(conn.frames.length, 1, 'nothing after the refusing CONNACK');
}

/** The server closes without sending anything. */
async function assertClosedSilently(conn: RawConnection, afterFrames = 0): Promise<void> {
  await conn.closed();
  assert.deepEqual(
    conn.frames.slice(afterFrames).map((f) => f.type),
    [],
    'nothing sent before closing',
  );
}

async function assertAlive(conn: RawConnection): Promise<void> {
  conn.send(PINGREQ);
  assert.equal((await conn.next('PINGRESP')).type, PACKET_TYPE.pingresp);
}

// ---- the cases, against each broker ------------------------------------------------

interface Target {
  name: string;
  skip: string | false;
  start(): Promise<{ port: number; stop(): Promise<void> }>;
  /** Cases where this broker is known not to conform, with what it does instead (reported as skipped). */
  deviations: { keepalive?: string };
}

const TARGETS: Target[] = [
  {
    name: 'embedded broker',
    skip: false,
    start: async () => {
      const broker = await startBroker({ port: 0 });
      return { port: broker.port, stop: () => broker.close() };
    },
    deviations: {},
  },
  {
    name: 'mosquitto (reference)',
    skip: mosquittoMissing() ?? false,
    start: async () => {
      const mosquitto = await startMosquitto();
      return { port: mosquitto.port, stop: () => mosquitto.stop() };
    },
    deviations: { keepalive: 'mosquitto 2.0 checks keepalives every few seconds: keepalive 1 s is closed after about 5 s, not 1.5 s' },
  },
];

for (const target of TARGETS) {
  describe(`MQTT 3.1.1 CONNECT conformance: ${target.name}`, { skip: target.skip }, () => {
    let server: { port: number; stop(): Promise<void> } | undefined;
    const open: RawConnection[] = [];
    const openConnection = async (): Promise<RawConnection> => {
      const conn = await RawConnection.open(server!.port);
      open.push(conn);
      return conn;
    };
    const connectWith = async (spec: ConnectSpec, ...more: Buffer[]): Promise<RawConnection> => {
      const conn = await openConnection();
      conn.send(connectPacket(spec), ...more);
      return conn;
    };

    before(async () => {
      server = await target.start();
    }, HOOK_TIMEOUT);
    after(async () => {
      for (const conn of open) conn.destroy();
      await server?.stop();
    }, HOOK_TIMEOUT);

    it('client id — empty with clean session 0: CONNACK 0x02 (identifier rejected), then closed [MQTT-3.1.3-8]', async () => {
      // a PUBLISH right behind the refused CONNECT is not processed (no PUBACK) [MQTT-3.1.4-5]
      await assertRefused(await connectWith({ clientId: '', clean: false }, publishQos1Packet(1, 'conformance/refused', 'x')), 2);
    });

    it('client id — empty with clean session 1: accepted with a unique id, subscribes and publishes [MQTT-3.1.3-6]', async () => {
      const a = await connectWith({ clientId: '', clean: true });
      await assertAccepted(a);
      const b = await connectWith({ clientId: '', clean: true });
      await assertAccepted(b);
      // two empty ids got different ids: b's connection did not take a's session over
      const topic = 'conformance/empty-id';
      a.send(subscribePacket(7, topic, 1));
      const suback = await a.next('SUBACK');
      assert.deepEqual([suback.type, ...suback.body], [PACKET_TYPE.suback, 0, 7, 1]);
      b.send(publishQos1Packet(9, topic, 'hello'));
      const puback = await b.next('PUBACK');
      assert.deepEqual([puback.type, ...puback.body], [PACKET_TYPE.puback, 0, 9]);
      const delivered = await a.next('PUBLISH');
      assert.equal(delivered.type, PACKET_TYPE.publish);
      const topicBytes = delivered.body.readUInt16BE(0);
      assert.equal(delivered.body.subarray(2, 2 + topicBytes).toString(), topic);
      assert.equal(delivered.body.subarray(2 + topicBytes + 2).toString(), 'hello');
      assert.ok(a.isOpen && b.isOpen);
    });

    it('client id — empty with MQTT 3.1 (MQIsdp, level 3): CONNACK 0x02, then closed', async () => {
      await assertRefused(await connectWith({ clientId: '', clean: true, protocolName: 'MQIsdp', protocolLevel: 3 }), 2);
    });

    it('client id — a second connection with the same id closes the first [MQTT-3.1.4-2]', async () => {
      const first = await connectWith({ clientId: 'conformance-takeover' });
      await assertAccepted(first);
      const second = await connectWith({ clientId: 'conformance-takeover' });
      await assertAccepted(second);
      await assertClosedSilently(first, 1);
      await assertAlive(second);
    });

    for (const level of [0, 2, 6, 0x86]) {
      it(`protocol — level ${level} is not supported: CONNACK 0x01 (unacceptable protocol level), then closed [MQTT-3.1.2-2]`, async () => {
        await assertRefused(await connectWith({ clientId: 'conformance-level', protocolLevel: level }), 1);
      });
    }

    it('protocol — an unknown protocol name closes the connection [MQTT-3.1.2-1]', async () => {
      await assertClosedSilently(await connectWith({ clientId: 'conformance-name', protocolName: 'MQTX' }));
    });

    it('protocol — a first packet other than CONNECT closes the connection [MQTT-3.1.0-1]', async () => {
      const conn = await openConnection();
      conn.send(PINGREQ);
      await assertClosedSilently(conn);
    });

    it('protocol — a second CONNECT on the same connection closes it [MQTT-3.1.0-2]', async () => {
      const conn = await connectWith({ clientId: 'conformance-twice' });
      await assertAccepted(conn);
      conn.send(connectPacket({ clientId: 'conformance-twice' }));
      await assertClosedSilently(conn, 1);
    });

    it('protocol — reserved bits of the CONNECT fixed header set close the connection [MQTT-2.2.2-2]', async () => {
      const conn = await openConnection();
      const packet = connectPacket({ clientId: 'conformance-fixed-header' });
      packet[0] = 0x11;
      conn.send(packet);
      await assertClosedSilently(conn);
    });

    it('flags — the reserved connect flag set closes the connection [MQTT-3.1.2-3]', async () => {
      await assertClosedSilently(await connectWith({ clientId: 'conformance-reserved', flags: 0x03 }));
    });

    it('flags — will QoS or will retain without the will flag close the connection [MQTT-3.1.2-13] [MQTT-3.1.2-15]', async () => {
      await assertClosedSilently(await connectWith({ clientId: 'conformance-will-qos', flags: 0x02 | (1 << 3) }));
      await assertClosedSilently(await connectWith({ clientId: 'conformance-will-retain', flags: 0x02 | 0x20 }));
    });

    it('flags — will QoS 3 closes the connection [MQTT-3.1.2-14]', async () => {
      await assertClosedSilently(await connectWith({ clientId: 'conformance-will-3', will: { topic: 'conformance/will', payload: 'gone', qos: 3 } }));
    });

    it('flags — a password without a user name closes the connection [MQTT-3.1.2-22]', async () => {
      await assertClosedSilently(await connectWith({ clientId: 'conformance-password', password: 'secret' }));
    });

    it('strings — U+0000 in the client id closes the connection [MQTT-1.5.3-2]', async () => {
      await assertClosedSilently(await connectWith({ clientId: 'conformance\u0000nul' }));
    });

    it('keepalive — a client silent for 1.5 x its keepalive is disconnected [MQTT-3.1.2-24]', { skip: target.deviations.keepalive ?? false }, async () => {
      const conn = await connectWith({ clientId: 'conformance-keepalive', keepaliveS: 1 });
      await assertAccepted(conn);
      const startedMs = Date.now();
      await assertClosedSilently(conn, 1);
      const elapsedMs = Date.now() - startedMs;
      assert.ok(elapsedMs >= 1_200 && elapsedMs < 3_000, `closed after ${elapsedMs} ms`);
    });
  });
}

// ---- the embedded broker only: with --auth, MQTT 5, WebSocket, and what it logs ----

describe('MQTT 3.1.1 CONNECT conformance: embedded broker with --auth and WebSocket', () => {
  let broker: BrokerHandle;
  let captured: CapturedLog;
  const open: RawConnection[] = [];
  const connectWith = async (spec: ConnectSpec, ...more: Buffer[]): Promise<RawConnection> => {
    const conn = await RawConnection.open(broker.port);
    open.push(conn);
    conn.send(connectPacket(spec), ...more);
    return conn;
  };

  before(async () => {
    const auth = withUser(emptyAuthFile(), 'car1', 'device', await hashPassword('car1-secret', { N: 1024, r: 8, p: 1 }));
    captured = captureLogger('debug');
    broker = await startBroker({ port: 0, wsPort: 0, auth, log: captured.log });
  }, HOOK_TIMEOUT);
  after(async () => {
    for (const conn of open) conn.destroy();
    await broker?.close();
  }, HOOK_TIMEOUT);

  it('client id — an empty id with clean session 0 is refused (0x02) before credentials are checked, and logged', async () => {
    await assertRefused(await connectWith({ clientId: '', clean: false, username: 'car1', password: 'wrong' }), 2);
    assert.equal(captured.find({ code: 'E_UNSUPPORTED', rule: 'MQTT-3.1.3-8', returnCode: 2, user: 'car1' }).length, 1);
    assert.equal(captured.find({ code: 'E_AUTH' }).length, 0);
  });

  it('client id — an empty id with clean session 1 is assigned "<user>.<uuid>", which the user owns', async () => {
    const conn = await connectWith({ clientId: '', clean: true, username: 'car1', password: 'car1-secret' });
    await assertAccepted(conn);
    const ids = captured.find({ msg: 'client connected', user: 'car1' }).map((e) => e['clientId']);
    assert.equal(ids.length, 1);
    assert.match(String(ids[0]), /^car1\.[0-9a-f-]{36}$/);
    // the ACL applies as for any car1 client
    conn.send(subscribePacket(3, 'edgeweave/v1/devices/car1/assign', 1), subscribePacket(4, 'edgeweave/v1/devices/car2/assign', 1));
    assert.deepEqual([...(await conn.next('SUBACK')).body], [0, 3, 1]);
    assert.deepEqual([...(await conn.next('SUBACK')).body], [0, 4, 0x80]);
  });

  it('protocol — an unsupported level is refused (0x01) and logged, also when the CONNECT arrives byte by byte', async () => {
    const conn = await RawConnection.open(broker.port);
    open.push(conn);
    for (const byte of connectPacket({ clientId: 'car1', protocolLevel: 6, username: 'car1', password: 'car1-secret' })) {
      if (!conn.isOpen) break;
      conn.send(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await assertRefused(conn, 1);
    assert.equal(captured.find({ code: 'E_UNSUPPORTED', protocolLevel: 6, returnCode: 1 }).length, 1);
  });

  it('protocol — MQTT 5 gets CONNACK 0x01 from aedes, also with an empty client id', async () => {
    const conn = await RawConnection.open(broker.port);
    open.push(conn);
    // CONNECT v5: name, level 5, clean session, keepalive, no properties, empty client id
    conn.send(frame(0x10, lengthPrefixed('MQTT'), Buffer.from([5, 0x00]), u16(30), Buffer.from([0]), lengthPrefixed('')));
    await assertRefused(conn, 1);
  });

  it('transport — WebSocket clients get the same refusals (0x02 and 0x01)', async () => {
    for (const [spec, returnCode] of [
      [{ clientId: '', clean: false }, 2],
      [{ clientId: 'car1', protocolLevel: 6 }, 1],
    ] as const) {
      const ws = new WebSocket(broker.wsUrl!, 'mqtt');
      const received: Buffer[] = [];
      ws.on('message', (data: Buffer) => received.push(Buffer.from(data)));
      const wsClosed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      try {
        await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), WAIT_MS, 'WebSocket open');
        ws.send(connectPacket(spec));
        await withTimeout(wsClosed, WAIT_MS, 'WebSocket close');
      } finally {
        ws.terminate();
      }
      assert.deepEqual(Buffer.concat(received), Buffer.from([0x20, 0x02, 0x00, returnCode]));
    }
  });
});
