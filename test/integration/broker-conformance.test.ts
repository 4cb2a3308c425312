import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startBroker } from '../../broker/index.ts';
import { mosquittoMissing, startMosquitto } from '../support/mosquitto.ts';
import {
  assertAccepted, assertAlive, assertClosedSilently, assertRefused, connectPacket, PACKET_TYPE, PINGREQ, publishQos1Packet,
  RawConnection, subscribePacket, type ConnectSpec,
} from '../support/raw-mqtt.ts';

// The CONNECT rules of MQTT 3.1.1 section 3.1 that a conformance suite (Eclipse Paho's
// interoperability tests) checks, with packets written byte by byte on a raw socket:
// client libraries refuse to send most of these (MQTT.js will not send an empty client
// id with clean session 0). The same cases run against mosquitto as the reference.
// The embedded broker's own cases (--auth, MQTT 5, WebSocket) are in
// broker-conformance-embedded.test.ts; the raw packets and connection in test/support/raw-mqtt.ts.

const HOOK_TIMEOUT = { timeout: 20_000 };

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
