import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLinkSpec, parseTrace, traceTransferS, LinkEmulator, traceBpsAt } from '../../node-runtime/link.ts';
import { ClockOffsetEstimator } from '../../node-runtime/clock.ts';
import { ResultLedger, StageLedger, jobKey, stageKey } from '../../node-runtime/ledger.ts';
import { JoinBuffer, type ArrivedInput } from '../../node-runtime/join-buffer.ts';
import { AttemptTracker } from '../../node-runtime/attempts.ts';
import { parseDataSources, loadLocalInput } from '../../node-runtime/data-sources.ts';
import { StageInput, StageSpec } from '../../schemas/generated/edgeweave.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

const isCode = (code: string) => (e: unknown): boolean => e instanceof EdgeweaveError && e.code === code;

test('link — parses up/down/rtt in any order and refuses mistakes', () => {
  assert.deepEqual(parseLinkSpec('up=10,down=20,rtt=10'), { upBps: 10e6, downBps: 20e6, rttMs: 10 });
  assert.deepEqual(parseLinkSpec('rtt=0, down=1.5 ,up=0.5'), { upBps: 0.5e6, downBps: 1.5e6, rttMs: 0 });
  for (const bad of ['', 'up=10', 'up=10,down=20', 'up=10,down=20,rtt=x', 'up=0,down=1,rtt=1', 'up=1,down=1,rtt=1,jitter=3', 'up=-1,down=1,rtt=1', 'up=1=2,down=1,rtt=1']) {
    assert.throws(() => parseLinkSpec(bad), isCode('E_USAGE'), bad);
  }
});

test('link — a trace is integrated over time, looping', () => {
  const trace = parseTrace('# t mbps\n0\t8\n1\t0\n2\t4\n', 't');
  assert.equal(trace.durationS, 3);
  assert.equal(traceBpsAt(trace, 0.5), 8e6);
  assert.equal(traceBpsAt(trace, 1.5), 0);
  assert.equal(traceBpsAt(trace, 3.5), 8e6, 'loops');
  // 4 Mbit from t=0: half a second at 8 Mbps.
  assert.ok(Math.abs(traceTransferS(trace, 0, 4e6) - 0.5) < 1e-9);
  // 12 Mbit from t=0: 8 in the first second, nothing in the second, 4 more at 4 Mbps.
  assert.ok(Math.abs(traceTransferS(trace, 0, 12e6) - 3) < 1e-9);
  for (const bad of ['', '0 1\n0 2\n', 'x y\n', '0 -1\n', '0 0\n1 0\n']) assert.throws(() => parseTrace(bad), isCode('E_CONFIG'), JSON.stringify(bad));
});

test('link — transfers on one pipe queue behind each other (FIFO)', () => {
  const link = new LinkEmulator({ upBps: 8e6, downBps: 80e6, rttMs: 10 }, undefined, 0);
  // 1 MB at 8 Mbps = 1000 ms, plus half the RTT.
  assert.equal(link.sendDelayMs(1e6, 0), 1005);
  // A second message sent at the same time waits for the first.
  assert.equal(link.sendDelayMs(1e6, 0), 2005);
  assert.equal(link.receiveDelayMs(1e6, 0), 105);
});

test('clock — the exchange with the smallest round trip sets the offset', () => {
  const c = new ClockOffsetEstimator(4, 0);
  assert.equal(c.offsetMs, 0);
  assert.equal(c.uncertaintyMs, Infinity, 'unknown before any exchange');
  // Reference is 100 ms ahead; symmetric 5 ms each way.
  c.addExchange(1000, 1105, 1105, 1010);
  assert.equal(c.offsetMs, 100);
  // A slow, asymmetric exchange does not displace it.
  c.addExchange(2000, 2150, 2150, 2060);
  assert.equal(c.offsetMs, 100);
  assert.equal(c.uncertaintyMs, 5);
  assert.equal(c.toReference(5000), 5100);
  assert.equal(c.addExchange(10, 5, 5, 5), undefined, 'time running backwards is refused');
  const ms = new ClockOffsetEstimator(4);
  ms.addExchange(1000, 1105, 1105, 1010);
  assert.equal(ms.uncertaintyMs, 6, 'whole-millisecond timestamps add their resolution');
});

test('ledger — a stage is claimed once, released when its executor dies', () => {
  const ledger = new StageLedger(3);
  const k = stageKey('car1', 'j', 1, 's0');
  assert.equal(ledger.claim(k, 'w0'), 'claimed');
  assert.equal(ledger.claim(k, 'w1'), 'running');
  assert.equal(ledger.releaseOwner('w0'), 1);
  assert.equal(ledger.claim(k, 'w1'), 'claimed');
  ledger.complete(k);
  assert.equal(ledger.claim(k, 'w2'), 'done');
  for (let i = 0; i < 5; i++) ledger.complete(stageKey('car1', 'j', 1, `x${i}`));
  assert.equal(ledger.isDone(k), false, 'old entries are forgotten past the bound');
});

test('ledger — the same job id from two origins is two jobs', () => {
  const ledger = new StageLedger();
  ledger.complete(stageKey('car1', 'j', 1, 's0'));
  assert.equal(ledger.claim(stageKey('car2', 'j', 1, 's0'), 'w0'), 'claimed');
  assert.equal(ledger.claim(stageKey('car1', 'j', 1, 's0'), 'w0'), 'done');
});

test('result ledger — one result per job leaves a device, whatever the attempt', () => {
  const results = new ResultLedger(2);
  assert.equal(results.claim(jobKey('car1', 'j'), 1), true);
  assert.equal(results.claim(jobKey('car1', 'j'), 2), false, 'a second attempt of the same job');
  assert.equal(results.sentAttempt(jobKey('car1', 'j')), 1);
  assert.equal(results.claim(jobKey('car2', 'j'), 1), true, 'another origin, another job');
  results.claim(jobKey('car3', 'j'), 1);
  assert.equal(results.sentAttempt(jobKey('car1', 'j')), undefined, 'old entries are forgotten past the bound');
});

function input(fromStage: string, fromDevice: string, arrivedAtMs: number, acks: string[]): ArrivedInput {
  return { message: StageInput.create({ fromStage, fromDevice }), arrivedAtMs, bytes: 10, downMs: 0, ack: () => acks.push(`${fromStage || fromDevice}@${arrivedAtMs}`) };
}

test('join buffer — completes when every producer arrived; ready time is the latest arrival', () => {
  const stage = StageSpec.create({ stageId: 's3', inputs: [{ tensor: 'a', fromStage: 's1', fromDevice: 'd1' }, { tensor: 'b', fromStage: 's2', fromDevice: 'd2' }, { tensor: 'c', fromStage: 's2', fromDevice: 'd2' }] });
  const acks: string[] = [];
  const buf = new JoinBuffer();
  assert.equal(buf.add('k', stage, input('s1', 'd1', 10, acks), 1000), undefined);
  assert.equal(buf.add('k', stage, input('s1', 'd1', 12, acks), 1000), undefined, 'a redelivered part replaces the first copy');
  const done = buf.add('k', stage, input('s2', 'd2', 30, acks), 1000)!;
  assert.ok(done);
  assert.equal(done.parts.length, 2);
  assert.equal(done.readyAtMs, 30);
  assert.equal(done.firstArrivalMs, 12);
  for (const p of done.parts) p.ack();
  assert.deepEqual(acks.sort(), ['s1@10', 's1@12', 's2@30'], 'every delivery is acknowledged once the stage ran');
  assert.equal(buf.size, 0);
});

test('join buffer — partial joins expire and are handed back', () => {
  const stage = StageSpec.create({ stageId: 's', inputs: [{ fromStage: 'a' }, { fromStage: 'b' }] });
  const buf = new JoinBuffer();
  buf.add('k', stage, input('a', 'd', 1, []), 100);
  assert.deepEqual(buf.expire(50), []);
  const expired = buf.expire(100);
  assert.equal(expired.length, 1);
  assert.equal(buf.size, 0);
});

test('attempts — an older attempt is refused once a newer one is seen', () => {
  const a = new AttemptTracker();
  assert.ok(a.observe('j', 1));
  assert.ok(a.observe('j', 2));
  assert.equal(a.observe('j', 1), false);
  assert.ok(a.isSuperseded('j', 1));
  a.cancel('j', 2);
  assert.equal(a.observe('j', 2), false);
  assert.ok(a.observe('j', 3));
});

test('data sources — parses and loads seeded random tensors; mistakes are usage errors', () => {
  const sources = parseDataSources(['radar=random:7', 'cam=./x.png', 't=./t.json']);
  assert.deepEqual(sources.get('radar'), { kind: 'random', seed: 7 });
  assert.equal(sources.get('cam')?.kind, 'image');
  const a = loadLocalInput(sources, 'radar', 'sensor', [4, 2]);
  const b = loadLocalInput(sources, 'radar', 'sensor', [4, 2]);
  assert.deepEqual(a.shape, [1, 4, 2]);
  assert.deepEqual(Array.from(a.values), Array.from(b.values), 'seeded: the same data every time');
  for (const bad of ['radar', '=x', 'r=', 'r=data.bin', 'r=random:x', 'bad key=random']) assert.throws(() => parseDataSources([bad]), isCode('E_USAGE'), bad);
  assert.throws(() => loadLocalInput(sources, 'none', 'sensor', [1]), isCode('E_INPUT'));
});
