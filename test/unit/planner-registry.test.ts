import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { DeviceRegistry } from '../../planner/device-registry.ts';
import { DeviceState, DeviceStatus, Role } from '../../schemas/generated/edgeweave.ts';

const near = (a: number, b: number, tol = 1e-6): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

function status(id: string, link: { upBps: number; downBps: number; rttMs: number }, role: Role = Role.ROLE_EDGE): DeviceStatus {
  return DeviceStatus.create({
    deviceId: id, state: DeviceState.DEVICE_STATE_ONLINE, incarnation: 'i1', heartbeatMs: 1000, role, speed: 1,
    memoryBytes: 2 ** 30, link, workers: ['w0'], models: ['chain'],
  });
}

function registry(now: number): DeviceRegistry {
  const r = new DeviceRegistry();
  r.updateStatus(status('car1', { upBps: 8e6, downBps: 16e6, rttMs: 10 }, Role.ROLE_IOT), now);
  r.updateStatus(status('cloud1', { upBps: 80e6, downBps: 8e6, rttMs: 40 }, Role.ROLE_CLOUD), now);
  return r;
}

test('planner registry — data placed on the links takes their time, one message after another, and drains with time', () => {
  const now = 1_000_000;
  const r = registry(now);
  const specOf = (id: string, at: number): ReturnType<DeviceRegistry['spec']> => r.spec(r.get(id)!, 'chain', false, at);
  // 1 MB car1 -> cloud1 at now: 1000 ms up; down from 1000 + 5, 1000 ms.
  r.addTransfer('car1', 'cloud1', 1e6, now);
  // A second 1 MB at now + 100 waits for the first on both links.
  r.addTransfer('car1', 'cloud1', 1e6, now + 100);
  assert.deepEqual(specOf('car1', now).uplinkBusy, [{ startMs: 0, endMs: 2000 }]);
  assert.equal(specOf('car1', now).downlinkBusy, undefined, 'nothing was sent to the car');
  assert.deepEqual(specOf('cloud1', now).downlinkBusy, [{ startMs: 1005, endMs: 3005 }]);
  assert.equal(specOf('cloud1', now).uplinkBusy, undefined);
  // Later, less is left; after it drained, nothing.
  assert.deepEqual(specOf('cloud1', now + 3000).downlinkBusy, [{ startMs: 0, endMs: 5 }]);
  assert.equal(specOf('cloud1', now + 4000).downlinkBusy, undefined);
  near(r.estimates(now + 1000).find((e) => e.deviceId === 'car1')!.uplinkBacklogMs!, 1000);
  // Data planned to leave later leaves the link free until then: an earlier message fits before it.
  r.addTransfer('car1', 'cloud1', 1e6, now + 10_000);
  r.addTransfer('car1', 'cloud1', 5e5, now + 8_000);
  assert.deepEqual(specOf('car1', now + 5000).uplinkBusy, [{ startMs: 3000, endMs: 3500 }, { startMs: 5000, endMs: 6000 }]);
  // Unknown devices, local hand-overs and empty messages are ignored.
  r.addTransfer('car1', 'ghost', 1e6, now);
  r.addTransfer('car1', 'car1', 1e6, now);
  r.addTransfer('car1', 'cloud1', 0, now + 20_000);
  assert.equal(specOf('car1', now + 20_000).uplinkBusy, undefined);
});

test('planner registry — learned factors fade back to the announced figures when nothing new is measured', () => {
  const r = registry(0);
  const rec = r.get('cloud1')!;
  rec.loadFactor = 16;
  rec.link = { ...rec.link, downBps: 2e6 };
  r.spec(rec, 'chain', false, 20_000);
  near(rec.loadFactor, 4);
  near(rec.link.downBps, 4e6);
  r.spec(rec, 'chain', false, 200_000);
  assert.ok(rec.loadFactor < 1.01 && Math.abs(rec.link.downBps - 8e6) < 0.1e6, `${rec.loadFactor} ${rec.link.downBps}`);
});

test('planner registry — queueing the plan expected is not mistaken for a slow link', () => {
  const now = 5_000;
  // 1 MB car1 -> cloud1 on idle links: 1000 + 5 + 1000 + 20 = 2025 ms.
  const idle = 2025;
  const learn = (measured: number, predicted: number): { up: number; down: number } => {
    const r = registry(now);
    r.learnTransfer('car1', 'cloud1', 1e6, measured, predicted, now);
    return { up: r.get('car1')!.link.upBps, down: r.get('cloud1')!.link.downBps };
  };
  // As predicted, 3 s of it queueing: the links are as announced.
  const expected = learn(idle + 3000, idle + 3000);
  near(expected.up, 8e6);
  near(expected.down, 8e6);
  // The same measurement without the predicted queue reads as slower links.
  const naive = learn(idle + 3000, 0);
  assert.ok(naive.up < 7e6 && naive.down < 7e6, JSON.stringify(naive));
  // Slower than predicted even after the queue: the links are re-estimated down.
  const slow = learn(idle * 2 + 3000, idle + 3000);
  assert.ok(slow.up < 8e6 && slow.down < 8e6, JSON.stringify(slow));
  // A measurement far below the prediction moves the estimate by at most 10x per step.
  const fast = learn(1, 0);
  assert.ok(fast.up <= 8e6 * 10 && fast.down <= 8e6 * 10, JSON.stringify(fast));
});

test('planner registry — a device is alive while its heartbeats come; a new incarnation starts learning afresh', () => {
  const r = registry(0);
  assert.deepEqual(r.aliveIds(3000).sort(), ['car1', 'cloud1']);
  assert.deepEqual(r.expire(10_000).sort(), ['car1', 'cloud1']);
  assert.deepEqual(r.aliveIds(10_000), []);
  assert.equal(r.updateStatus(status('car1', { upBps: 8e6, downBps: 16e6, rttMs: 10 }), 10_500), 'online');
  const rec = r.get('car1')!;
  rec.loadFactor = 3;
  r.updateStatus({ ...status('car1', { upBps: 8e6, downBps: 16e6, rttMs: 10 }), incarnation: 'i2' }, 11_000);
  assert.equal(r.get('car1')!.loadFactor, 1);
});

test('planner registry — an executor\'s queue is the work placed on it, back to back from now, with no gaps to slip into', () => {
  const now = 50_000;
  const r = registry(now);
  r.addBusy('cloud1', 'j1', 0, now + 100, now + 300);
  r.addBusy('cloud1', 'j2', 0, now + 900, now + 1000);
  r.addBusy('cloud1', 'j3', 0, now - 500, now - 100);
  const spec = r.spec(r.get('cloud1')!, 'chain', false, now);
  assert.deepEqual(spec.busy, [{ startMs: 0, endMs: 1000, worker: 0 }]);
  r.clearBusy('j2');
  assert.deepEqual(r.spec(r.get('cloud1')!, 'chain', false, now).busy, [{ startMs: 0, endMs: 300, worker: 0 }]);
  assert.deepEqual(r.spec(r.get('cloud1')!, 'chain', false, now + 400).busy, []);
});
