import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { emptyAuthFile, hashPassword, startBroker, withUser, type BrokerHandle } from '../../broker/index.ts';
import { captureLogger, type CapturedLog } from '../support/log.ts';
import { withTimeout } from '../support/mqtt.ts';
import {
  assertAccepted, assertRefused, connectPacket, frame, lengthPrefixed, RawConnection, subscribePacket, u16, WAIT_MS,
  type ConnectSpec,
} from '../support/raw-mqtt.ts';

// The CONNECT rules of MQTT 3.1.1 section 3.1 where the embedded broker goes beyond the cases
// broker-conformance.test.ts runs against it and mosquitto alike: under --auth, with MQTT 5,
// over WebSocket, and what it logs. Packets are written byte by byte on a raw socket.

const HOOK_TIMEOUT = { timeout: 20_000 };

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
    // the ACL applies as for any car1 client (one SUBSCRIBE at a time: aedes handles packets that
    // arrive together concurrently, so a refusal's SUBACK can overtake an earlier grant's)
    conn.send(subscribePacket(3, 'edgeweave/v1/devices/car1/assign', 1));
    assert.deepEqual([...(await conn.next('SUBACK')).body], [0, 3, 1]);
    conn.send(subscribePacket(4, 'edgeweave/v1/devices/car2/assign', 1));
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
