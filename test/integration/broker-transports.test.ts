import { strict as assert } from 'node:assert';
import { get } from 'node:http';
import { connect as connectTcp, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { captureLogger, type CapturedLog } from '../support/log.ts';
import { closeClients, closed, connectClient, subscribe, withTimeout, type TestClient } from '../support/mqtt.ts';
import { makeSelfSignedCert, type SelfSignedCert } from '../support/tls.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

async function roundTrip(publisher: TestClient, subscriber: TestClient, topic: string, payload: Buffer): Promise<void> {
  const before = subscriber.inbox.messages.length;
  await publisher.client.publishAsync(topic, payload, { qos: 1 });
  const messages = await subscriber.inbox.waitForCount(before + 1);
  assert.ok(messages[before]!.payload.equals(payload));
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

function socketClosed(socket: Socket): Promise<void> {
  return withTimeout(new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve()))), 5_000, 'raw socket close');
}

const CONNECT = Buffer.from([0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x02, 0x72, 0x77]);

describe('broker transports and limits', () => {
  let broker: BrokerHandle;
  let captured: CapturedLog;
  const open: TestClient[] = [];
  const connect = async (url: string, options: Record<string, unknown> = {}): Promise<TestClient> => {
    const c = await connectClient(url, options);
    open.push(c);
    return c;
  };

  before(async () => {
    captured = captureLogger('warn');
    broker = await startBroker({ port: 0, wsPort: 0, maxPayloadBytes: 1024, log: captured.log });
  }, { timeout: SETUP_TIMEOUT_MS });
  after(async () => {
    await closeInOrder('broker-transports', [
      ['the clients', () => closeClients(...open.map((c) => c.client))],
      ['the broker', broker && (() => broker.close())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  it('transport — MQTT over WebSocket carries plain and shared subscriptions', async () => {
    assert.match(broker.wsUrl ?? '', /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    const wsSub = await connect(broker.wsUrl!);
    const tcpPub = await connect(broker.url);
    await subscribe(wsSub.client, ['ws/plain', '$share/g/ws/shared']);
    await roundTrip(tcpPub, wsSub, 'ws/plain', Buffer.from('over websocket'));
    await roundTrip(tcpPub, wsSub, 'ws/shared', Buffer.alloc(1000, 7));
  });

  it('transport — plain HTTP on the WebSocket port gets 404', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      get(`http://127.0.0.1:${broker.wsPort}/`, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).once('error', reject);
    });
    assert.equal(status, 404);
  });

  it('limits — a payload over --max-payload closes the publisher; everyone else keeps working', async () => {
    const watcher = await connect(broker.url);
    await subscribe(watcher.client, 'big/#');
    const offender = await connect(broker.url);
    const gone = closed(offender.client);
    offender.client.publishAsync('big/one', Buffer.alloc(2048), { qos: 1 }).catch(() => {});
    await gone;
    assert.ok(captured.find({ code: 'E_PAYLOAD_TOO_LARGE', topic: 'big/one' }).length > 0);
    const other = await connect(broker.url);
    await roundTrip(other, watcher, 'big/fine', Buffer.alloc(1024, 1));
    assert.deepEqual(watcher.inbox.messages.map((m) => m.topic), ['big/fine']);
  });

  it('limits — a packet far over the limit is refused from its header, before it is buffered', async () => {
    const offender = await connect(broker.url);
    const gone = closed(offender.client);
    offender.client.publishAsync('huge/one', Buffer.alloc(512 * 1024), { qos: 0 }).catch(() => {});
    await gone;
    assert.ok(captured.find({ code: 'E_PAYLOAD_TOO_LARGE', packetType: 3 }).length > 0);
    // The broker still serves: a new client's message makes the round trip.
    const still = await connect(broker.url);
    await subscribe(still.client, 'huge/after');
    await roundTrip(still, still, 'huge/after', Buffer.from('still serving'));
  });

  it('robustness — garbage bytes and malformed subscriptions close only that connection', async () => {
    const garbage = await rawSocket(broker.port);
    garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02]));
    await socketClosed(garbage);

    const malformed = await rawSocket(broker.port);
    malformed.on('data', () => {});
    malformed.write(CONNECT);
    const topic = Buffer.from('$share/g+/x');
    malformed.write(Buffer.concat([Buffer.from([0x82, 2 + 2 + topic.length + 1, 0x00, 0x01, 0x00, topic.length]), topic, Buffer.from([0x01])]));
    await socketClosed(malformed);

    const a = await connect(broker.url);
    const b = await connect(broker.url);
    await subscribe(b.client, 'alive');
    await roundTrip(a, b, 'alive', Buffer.from('still serving'));
  });

  it('lifecycle — close() disconnects clients, drops half-open sockets and frees the ports', async () => {
    const other = await startBroker({ port: 0, wsPort: 0 });
    const client = await connectClient(other.url);
    open.push(client);
    const halfOpen = await rawSocket(other.port);
    const clientGone = closed(client.client);
    await withTimeout(other.close(), 5_000, 'broker close');
    await clientGone;
    await socketClosed(halfOpen);
    await assert.rejects(rawSocket(other.port));
  });
});

describe('broker over TLS', () => {
  let cert: SelfSignedCert;
  let broker: BrokerHandle;
  const open: TestClient[] = [];

  before(async () => {
    cert = await makeSelfSignedCert();
    broker = await startBroker({ port: 0, wsPort: 0, tls: { cert: cert.cert, key: cert.key } });
  }, { timeout: SETUP_TIMEOUT_MS });
  after(async () => {
    await closeInOrder('broker over TLS', [
      ['the clients', () => closeClients(...open.map((c) => c.client))],
      ['the broker', broker && (() => broker.close())],
      ['the certificate files', cert && (() => cert.remove())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  it('transport — MQTT over TLS and secure WebSocket, verified against the certificate', async () => {
    assert.match(broker.url, /^mqtts:\/\//);
    assert.match(broker.wsUrl ?? '', /^wss:\/\//);
    const tlsOptions = { ca: cert.cert, rejectUnauthorized: true };
    const sub = await connectClient(broker.url, tlsOptions);
    const wss = await connectClient(broker.wsUrl!, { ...tlsOptions, wsOptions: { ca: cert.cert } });
    open.push(sub, wss);
    await subscribe(sub.client, ['tls/plain', '$share/g/tls/shared']);
    await roundTrip(wss, sub, 'tls/plain', Buffer.from('secure'));
    await roundTrip(wss, sub, 'tls/shared', Buffer.alloc(1024 * 1024, 3));
  });

  it('transport — a TLS listener refuses plain MQTT and untrusted certificates', async () => {
    await assert.rejects(connectClient(broker.url.replace('mqtts:', 'mqtt:'), {}, { timeoutMs: 2_000 }));
    await assert.rejects(connectClient(broker.url, { rejectUnauthorized: true }, { timeoutMs: 2_000 }));
  });
});
