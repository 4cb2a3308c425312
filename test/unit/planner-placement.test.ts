import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceRegistry } from '../../planner/device-registry.ts';
import { newJob } from '../../planner/job-book.ts';
import { placeAttempt } from '../../planner/placement.ts';
import { DeviceState, DeviceStatus, JobRequest, Role, type JobRequestInit } from '../../schemas/generated/edgeweave.ts';
import { chainGraph } from '../support/planner-fixtures.ts';

const NOW = 1_000_000;
const graph = chainGraph(6, () => ({ flops: 5e9, outputBytes: 40_000 }));
const model = { id: 'chain', sha256: '' };

function registry(): DeviceRegistry {
  const r = new DeviceRegistry();
  const status = (deviceId: string, role: Role, speed: number, up: number): DeviceStatus => DeviceStatus.create({
    deviceId, role, state: DeviceState.DEVICE_STATE_ONLINE, speed, memoryBytes: 8 * 2 ** 30, workers: ['w0'], heartbeatMs: 1000,
    models: ['chain'], incarnation: 'x', link: { upBps: up, downBps: up, rttMs: 10 },
  });
  r.updateStatus(status('car1', Role.ROLE_IOT, 0.1, 10e6), NOW);
  r.updateStatus(status('edge1', Role.ROLE_EDGE, 1, 200e6), NOW);
  return r;
}

const job = (over: Partial<JobRequestInit>) => newJob(JobRequest.create({ jobId: 'j', originDevice: 'car1', model: { name: 'chain' }, algorithm: 'auto', ...over }), model, graph, NOW);
const defaults = { algorithm: 'auto' };

test('placement — idle devices: planned', () => {
  const p = placeAttempt(registry(), job({ timeoutMs: 10_000 }), false, defaults, 5, NOW);
  assert.equal(p.kind, 'plan');
});

test('placement — devices busy past the job\'s deadline: refused at once with E_OVERLOADED, which idle devices would not be', () => {
  const r = registry();
  const idle = placeAttempt(r, job({ timeoutMs: 10_000 }), false, defaults, 5, NOW);
  assert.equal(idle.kind, 'plan');
  const idleMs = idle.kind === 'plan' ? idle.core.predictedLatencyMs : 0;
  // Both devices' executors are taken for a minute by earlier jobs.
  r.addBusy('car1', 'other', 0, NOW, NOW + 60_000);
  r.addBusy('edge1', 'other', 0, NOW, NOW + 60_000);
  const busy = placeAttempt(r, job({ objective: { kind: 1, deadlineMs: Math.ceil(idleMs * 3) } }), false, defaults, 5, NOW);
  assert.equal(busy.kind, 'refuse');
  assert.equal(busy.kind === 'refuse' && busy.code, 'E_OVERLOADED', busy.kind === 'refuse' ? busy.message : '');
  // A timeout is no deadline: the job is planned, and waits its turn.
  assert.equal(placeAttempt(r, job({ timeoutMs: Math.ceil(idleMs * 3) }), false, defaults, 5, NOW).kind, 'plan');
});

test('placement — a deadline no idle device could meet either: E_INFEASIBLE, not E_OVERLOADED', () => {
  const p = placeAttempt(registry(), job({ objective: { kind: 1, deadlineMs: 1 } }), false, defaults, 5, NOW);
  assert.equal(p.kind === 'refuse' && p.code, 'E_INFEASIBLE');
});
