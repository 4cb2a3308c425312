import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { StageInput } from '../../schemas/generated/edgeweave.ts';
import { decodeTensor, encodeTensor } from '../../schemas/tensor-codec.ts';
import { topics } from '../../schemas/topics.ts';
import { Transport } from '../../transport/mqtt-transport.ts';
import { closeClients, connectClient, subscribe, type TestClient } from '../support/mqtt.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

/** A tensor whose every element says which message it belongs to and where it sits. */
function numbered(message: number, elements: number): Float32Array {
  const values = new Float32Array(elements);
  for (let i = 0; i < elements; i++) values[i] = message * 1_000_000 + (i % 999_983);
  return values;
}

// Large packets are read whole into one buffer, by the broker (from publishers) and by the
// transport (from the broker); these sizes straddle the 64 KiB read buffer and mix large
// packets with small ones so that packets start in the middle of reads.
const ELEMENTS = [16, 3 * 1024 * 1024 / 4, 10, 16_384 - 8, 16_384 + 8, 100_000, 4, 1024 * 1024 / 4, 1];

describe('broker large messages', () => {
  let broker: BrokerHandle;
  const transports: Transport[] = [];
  const clients: TestClient[] = [];

  before(async () => {
    broker = await startBroker({ port: 0, wsPort: null });
  }, { timeout: SETUP_TIMEOUT_MS });
  after(async () => {
    await closeInOrder('broker-large-messages', [
      ['the transports', () => Promise.all(transports.map((t) => t.close())).then(() => undefined)],
      ['the clients', () => closeClients(...clients.map((c) => c.client))],
      ['the broker', broker && (() => broker.close())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  it('large messages — large and small stage inputs sent back to back arrive intact, in order, to the transport and to a plain client', async () => {
    const log = pino({ level: 'silent' });
    const sender = await Transport.connect({ brokerUrl: broker.url, clientId: 'large-sender', log });
    const receiver = await Transport.connect({ brokerUrl: broker.url, clientId: 'large-receiver', log });
    transports.push(sender, receiver);
    const plain = await connectClient(broker.url, { clientId: 'large-plain' });
    clients.push(plain);
    const topic = topics.deviceInbox('large-receiver');
    await subscribe(plain.client, topic, 1);
    const received: Array<{ stageId: string; values: Float32Array }> = [];
    let onReceived: () => void = () => {};
    await receiver.on('deviceInbox', topic, (m) => {
      const values = decodeTensor(m.message.tensors[0]!).values as Float32Array;
      received.push({ stageId: m.message.stageId, values });
      m.ack();
      onReceived();
    });
    const all = new Promise<void>((resolve) => {
      onReceived = () => received.length === ELEMENTS.length && resolve();
    });
    const payloads = ELEMENTS.map((elements, k) =>
      StageInput.encode({ jobId: 'large', attempt: 1, stageId: `s${k}`, tensors: [encodeTensor({ dtype: 'float32', shape: [elements], values: numbered(k, elements) }, { name: 't' })] }),
    );
    await Promise.all(payloads.map((payload) => sender.publish(topic, payload, { qos: 1 })));
    await all;
    assert.deepEqual(received.map((r) => r.stageId), ELEMENTS.map((_, k) => `s${k}`), 'in publish order');
    for (const [k, r] of received.entries()) assert.deepEqual(r.values, numbered(k, ELEMENTS[k]!), `message ${k} intact`);
    const plainMessages = await plain.inbox.waitForCount(ELEMENTS.length);
    for (const [k, m] of plainMessages.entries()) assert.ok(Buffer.from(payloads[k]!).equals(m.payload), `message ${k} intact for the plain client`);
  });
});
