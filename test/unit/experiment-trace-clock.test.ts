import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TraceEpochEstimator, tracePositionAt, writeDriveTrace } from '../../cli/experiment/trace-clock.ts';
import { loadTrace, parseTrace, traceBpsAt, type BandwidthTrace } from '../../node-runtime/link.ts';

const HSDPA = fileURLToPath(new URL('../../data/traces/hsdpa-norway_car_1.tsv', import.meta.url));

function tempFile(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'edgeweave-trace-')), name);
}

/** Statuses a device started at `epochMs` publishes every `everyMs` from `firstMs` on: [sentAtMs, bps]. */
function statuses(trace: BandwidthTrace, epochMs: number, firstMs: number, everyMs: number, count: number): Array<[number, number]> {
  return Array.from({ length: count }, (_, i) => {
    const at = firstMs + i * everyMs + (i % 3);
    return [at, traceBpsAt(trace, (at - epochMs) / 1000)] as [number, number];
  });
}

test('experiment trace clock — the replayed drive is the trace cut to the duration and compressed by the time scale', () => {
  const source = parseTrace('0\t5\n1\t4\n2\t3\n3\t2\n4\t1\n', 'five');
  const whole = writeDriveTrace(source, 10, 2, tempFile('whole.tsv'));
  assert.deepEqual(Array.from(whole.timesS), [0, 0.5, 1, 1.5, 2]);
  assert.deepEqual(Array.from(whole.bps), [5e6, 4e6, 3e6, 2e6, 1e6]);
  assert.equal(whole.durationS, 2.5, 'a drive longer than the trace replays it whole (it loops)');
  const path = tempFile('cut.tsv');
  const cut = writeDriveTrace(source, 3, 1, path);
  assert.deepEqual(Array.from(cut.timesS), [0, 1, 2]);
  assert.equal(cut.durationS, 3);
  assert.deepEqual(loadTrace(path), cut, 'what the device reads is what the experiment computes with');
  assert.match(readFileSync(path, 'utf8'), /^# five, first 3 s/);
});

test('experiment trace clock — statuses locate a synthetic trace\'s start to within the clock slack', () => {
  const drive = parseTrace(Array.from({ length: 10 }, (_, i) => `${i * 0.5}\t${i < 5 ? 50 : 0.02}`).join('\n'), 'drop');
  const epoch = 1_000_000;
  const clock = new TraceEpochEstimator(drive, epoch - 4000);
  assert.equal(clock.observed, false);
  for (const [at, bps] of statuses(drive, epoch, epoch + 700, 250, 40)) clock.observe(at, bps);
  assert.ok(clock.observed);
  assert.ok(Math.abs(clock.epochMs - epoch) <= clock.uncertaintyMs, `estimate ${clock.epochMs - epoch} ms off, uncertainty ${clock.uncertaintyMs}`);
  assert.ok(clock.uncertaintyMs <= 130, `two changes per loop and a status every 250 ms pin it to ±125 ms, got ${clock.uncertaintyMs}`);
  assert.equal(clock.summary.inconsistent, 0);
  // An old retained status (before the start) is ignored; a wrong one is counted, not believed.
  clock.observe(epoch - 5000, 50e6);
  clock.observe(epoch + 3000, 123);
  assert.equal(clock.summary.observations, 41);
  assert.equal(clock.summary.inconsistent, 1);
});

test('experiment trace clock — on a real HSDPA drive a few seconds of statuses pin the start to milliseconds', () => {
  const drive = writeDriveTrace(loadTrace(HSDPA), 60, 10, tempFile('hsdpa.tsv'));
  const epoch = 5_000_000.4;
  const clock = new TraceEpochEstimator(drive, epoch - 3000);
  for (const [at, bps] of statuses(drive, epoch, epoch + 1500, 200, 30)) clock.observe(at, bps);
  assert.ok(Math.abs(clock.epochMs - epoch) <= 10, `estimate ${clock.epochMs - epoch} ms off`);
  assert.ok(clock.uncertaintyMs <= 10, `uncertainty ${clock.uncertaintyMs} ms`);
  const at = tracePositionAt(drive, clock.epochMs, epoch + 7000);
  assert.ok(Math.abs(drive.durationS - 6) < 0.1, `60 s of drive replayed 10x faster loops in about 6 s, got ${drive.durationS}`);
  assert.ok(Math.abs(at.positionS - (7 - drive.durationS)) < 0.02, `7 s after the start, ${7 - drive.durationS} s into the second loop, got ${at.positionS}`);
  assert.equal(at.bps, traceBpsAt(drive, 7));
});

test('experiment trace clock — a device slower to start than one loop leaves starts a loop apart: equivalent, not uncertain', () => {
  const drive = parseTrace('0\t50\n1\t50\n2\t0.01\n3\t0.01\n', 'short loop');
  const epoch = 2_000_000;
  const clock = new TraceEpochEstimator(drive, epoch - 9000);
  for (const [at, bps] of statuses(drive, epoch, epoch + 6000, 100, 60)) clock.observe(at, bps);
  assert.ok(clock.uncertaintyMs <= 60, `uncertainty ${clock.uncertaintyMs} ms`);
  const loopMs = drive.durationS * 1000;
  const off = (((clock.epochMs - epoch) % loopMs) + loopMs) % loopMs;
  assert.ok(Math.min(off, loopMs - off) <= 60, `the estimate is a whole number of loops off, plus ${off} ms`);
});
