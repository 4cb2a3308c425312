/** ClockSync's device schedule, on faked time: when a clock ping goes out (the exchanges are in test/integration). */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClockSync, CLOCK_PING_PERIOD_MS, type ClockTransport } from '../../node-runtime/clock-sync.ts';
import { ClockPing } from '../../schemas/generated/edgeweave.ts';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval'] }));
afterEach(() => mock.timers.reset());

/** Advances the faked clock a millisecond at a time (a timer set by a callback then starts from that callback's time, as it would). */
function advance(ms: number): void {
  for (let i = 0; i < ms; i++) mock.timers.tick(1);
}

/** A transport that records the pings it is asked to publish. */
function pingRecorder(): { transport: ClockTransport; pings: ClockPing[]; link: { up: boolean } } {
  const pings: ClockPing[] = [];
  const link = { up: true };
  const transport: ClockTransport = {
    get connected() { return link.up; },
    publish: async (_topic, payload) => { pings.push(ClockPing.decode(payload)); },
    on: async () => undefined,
  };
  return { transport, pings, link };
}

test('clock sync — the device schedule: a ping at once, a burst of four, then one per period, while connected, until stopped', async () => {
  const { transport, pings, link } = pingRecorder();
  const sync = await ClockSync.attach(transport, 'edge1');
  sync.keepSynced();
  assert.equal(pings.length, 1, 'at once');
  advance(300);
  assert.equal(pings.length, 2);
  advance(200);
  assert.equal(pings.length, 3);
  // Periods 1-3 still carry a burst ping 200 ms after theirs; period 4 does not.
  advance(4 * CLOCK_PING_PERIOD_MS);
  assert.equal(pings.length, 3 + 3 * 2 + 1);
  assert.deepEqual(pings.map((p) => p.seq), pings.map((_, i) => i + 1));
  assert.ok(pings.every((p) => p.deviceId === 'edge1'));
  link.up = false;
  advance(CLOCK_PING_PERIOD_MS);
  assert.equal(pings.length, 10, 'none while disconnected');
  link.up = true;
  sync.stop();
  advance(3 * CLOCK_PING_PERIOD_MS);
  assert.equal(pings.length, 10, 'none after stop');
});
