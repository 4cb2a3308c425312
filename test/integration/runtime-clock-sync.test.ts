/**
 * ClockSync against a real broker on port 0: a reference clock (as the planner answers pings,
 * but set 5 s ahead) and nodes that sync with both schedules, the client's and the device's.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { Transport } from '../../transport/mqtt-transport.ts';
import { ClockSync } from '../../node-runtime/clock-sync.ts';
import type { ClockSample } from '../../node-runtime/clock.ts';
import { ClockPong } from '../../schemas/generated/edgeweave.ts';
import { filters, topics } from '../../schemas/topics.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

/** The reference clock runs this far ahead of the nodes'. */
const SKEW_MS = 5000;

describe('clock sync over a real broker', () => {
  let broker: BrokerHandle;
  let reference: Transport;
  const nodes: Transport[] = [];
  const connectNode = async (id: string): Promise<Transport> => {
    const t = await Transport.connect({ brokerUrl: broker.url, clientId: id, clean: true });
    nodes.push(t);
    return t;
  };

  before(async () => {
    broker = await startBroker({ port: 0 });
    reference = await Transport.connect({ brokerUrl: broker.url, clientId: 'reference-clock', clean: true });
    // Answers as the planner does, except: 'mute' gets no answer, and 'noisy' first gets a pong of
    // a ping it never sent, one with another t0, then the real one twice (two planners answering).
    await reference.on('clockPing', filters.allClockPings(), ({ message: ping, topic }) => {
      const id = topic.deviceId;
      if (id === 'mute') return;
      const now = Date.now() + SKEW_MS;
      const pong = (seq: number, t0Ms: number): Promise<void> =>
        reference.publish(topics.clockPong(id), ClockPong.encode({ deviceId: id, seq, t0Ms, t1Ms: now, t2Ms: now, plannerId: 'reference' }), { qos: 0 });
      const answers = id === 'noisy'
        ? [pong(ping.seq + 1000, ping.t0Ms), pong(ping.seq, ping.t0Ms + 1), pong(ping.seq, ping.t0Ms), pong(ping.seq, ping.t0Ms)]
        : [pong(ping.seq, ping.t0Ms)];
      void Promise.all(answers).catch(() => undefined);
    }, { qos: 0 });
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('runtime-clock-sync', [
      ['the nodes', () => Promise.all(nodes.map((t) => t.close()))],
      ['the reference', reference && (() => reference.close())],
      ['the broker', broker && (() => broker.close())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  it('clock sync — a client\'s rounds resolve once answered, with the reference\'s offset', async () => {
    const sync = await ClockSync.attach(await connectNode('car1'), 'car1');
    const started = Date.now();
    await sync.syncClock(4, 10_000);
    assert.ok(Date.now() - started < 10_000, 'resolved on the answers, not at the deadline');
    assert.equal(sync.clock.sampleCount, 4);
    assert.ok(Number.isFinite(sync.clock.uncertaintyMs));
    assert.ok(Math.abs(sync.clock.offsetMs - SKEW_MS) <= sync.clock.uncertaintyMs, `offset ${sync.clock.offsetMs} within ±${sync.clock.uncertaintyMs} of ${SKEW_MS}`);
  });

  it('clock sync — unanswered pings: the rounds give up after waitMs and the offset stays 0', async () => {
    const sync = await ClockSync.attach(await connectNode('mute'), 'mute');
    const started = Date.now();
    await sync.syncClock(2, 200);
    assert.ok(Date.now() - started >= 190, 'waited for the answers');
    assert.equal(sync.clock.sampleCount, 0);
    assert.equal(sync.clock.offsetMs, 0);
    assert.equal(sync.clock.uncertaintyMs, Infinity);
  });

  it('clock sync — pongs of unknown pings, with another t0, or answered twice are not counted', async () => {
    const sync = await ClockSync.attach(await connectNode('noisy'), 'noisy');
    await sync.syncClock(3, 10_000);
    // The reference sends the bad pongs and the first duplicates ahead of the next real pong, in order.
    assert.equal(sync.clock.sampleCount, 3);
    assert.ok(Math.abs(sync.clock.offsetMs - SKEW_MS) <= sync.clock.uncertaintyMs);
  });

  it('clock sync — the device\'s schedule pings at once and in a burst, and hands each sample on', async () => {
    const samples: ClockSample[] = [];
    let third: () => void = () => undefined;
    const thirdSample = new Promise<void>((resolve) => { third = resolve; });
    const sync = await ClockSync.attach(await connectNode('edge1'), 'edge1', {
      onSample: (s) => {
        samples.push(s);
        if (samples.length === 3) third();
      },
    });
    sync.keepSynced();
    // One ping at once, one at 300 ms, one 200 ms later: three samples well before the first period.
    await thirdSample;
    sync.stop();
    assert.equal(sync.clock.sampleCount, samples.length);
    for (const s of samples) assert.ok(Math.abs(s.offsetMs - SKEW_MS) <= s.delayMs / 2 + 1);
  });
});
