import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { ALGORITHM_NAMES, planJob, type DeviceSpec, type Objective, type PlanRequest } from '../../planner/core/index.ts';
import type { TaskGraph } from '../../schemas/graph.ts';
import { carEdgeCloud, chainGraph, makeGraph, randomRequest } from '../support/planner-fixtures.ts';
import { checkPlanInvariants } from '../support/planner-invariants.ts';

const MiB = 2 ** 20;

/** input -> stem -> two branches -> add -> head: a residual block. */
const residual: TaskGraph = makeGraph([
  { id: 'image', outputBytes: 224 * 224 * 3 * 4, flops: 0, outputShape: [224, 224, 3] },
  { id: 'stem', preds: ['image'], flops: 2e9, outputBytes: 800_000, paramBytes: 40_000, activationBytes: 3e6 },
  { id: 'conv_a', preds: ['stem'], flops: 3e9, outputBytes: 800_000, paramBytes: 2e6, activationBytes: 2e6 },
  { id: 'conv_b', preds: ['conv_a'], flops: 3e9, outputBytes: 800_000, paramBytes: 2e6, activationBytes: 2e6 },
  { id: 'add', preds: ['stem', 'conv_b'], flops: 2e5, outputBytes: 800_000, activationBytes: 3e6 },
  { id: 'pool', preds: ['add'], flops: 2e5, outputBytes: 2048 },
  { id: 'fc', preds: ['pool'], flops: 4e6, outputBytes: 4000, paramBytes: 8e6 },
], 'residual');

/** Two inputs: a camera on the car and a map held by the edge server, fused late. */
const fusion: TaskGraph = makeGraph([
  { id: 'camera', outputBytes: 64 * 64 * 3 * 4, flops: 0, outputShape: [64, 64, 3] },
  { id: 'map', outputBytes: 200_000, flops: 0, pinned: 'edge1' },
  { id: 'cam_feat', preds: ['camera'], flops: 1e9, outputBytes: 50_000 },
  { id: 'map_feat', preds: ['map'], flops: 5e8, outputBytes: 50_000 },
  { id: 'concat', preds: ['cam_feat', 'map_feat'], flops: 1e4, outputBytes: 100_000 },
  { id: 'head', preds: ['concat'], flops: 2e8, outputBytes: 400 },
], 'fusion');

/** A Dense layer split in 4 shards + a join; its weights fit no single small device. */
const sharded: TaskGraph = makeGraph([
  { id: 'x', outputBytes: 100_000, flops: 0 },
  { id: 'features', preds: ['x'], flops: 1e9, outputBytes: 100_000, paramBytes: 10 * MiB, activationBytes: 1 * MiB },
  ...[0, 1, 2, 3].map((i) => ({ id: `fc1#${i}`, kind: 'DenseShard', preds: ['features'], flops: 2.5e8, outputBytes: 4096, paramBytes: 100 * MiB, activationBytes: 1 * MiB })),
  { id: 'fc1', kind: 'DenseJoin', preds: ['fc1#0', 'fc1#1', 'fc1#2', 'fc1#3'], flops: 1e4, outputBytes: 16384, activationBytes: 1 * MiB },
  { id: 'out', preds: ['fc1'], flops: 1e6, outputBytes: 4000, paramBytes: 1 * MiB },
], 'sharded');

function smallDevices(): DeviceSpec[] {
  return [
    { id: 'pi', role: 'iot', speed: 0.1, memoryBytes: 64 * MiB, link: { upBps: 20e6, downBps: 40e6, rttMs: 5 } },
    { id: 'nano1', role: 'edge', speed: 0.3, memoryBytes: 230 * MiB, power: 'jetson-nano-10w', radio: 'wifi', link: { upBps: 100e6, downBps: 100e6, rttMs: 2 } },
    { id: 'nano2', role: 'edge', speed: 0.3, memoryBytes: 230 * MiB, power: 'jetson-nano-5w', radio: 'wifi', link: { upBps: 100e6, downBps: 100e6, rttMs: 2 } },
    { id: 'nano3', role: 'edge', speed: 0.25, memoryBytes: 230 * MiB, power: { preset: 'jetson-nano-5w', idleW: 1.2 }, radio: 'lte', link: { upBps: 30e6, downBps: 60e6, rttMs: 30 } },
  ];
}

const OBJECTIVES: Objective[] = [{ kind: 'latency' }, { kind: 'energy' }, { kind: 'energy-total' }, { kind: 'weighted', latencyWeight: 2, energyWeight: 1 }];

function cases(): Array<{ name: string; request: PlanRequest }> {
  const busy = carEdgeCloud().map((d) => (d.id === 'edge1' ? { ...d, workers: 3, busy: [{ startMs: 0, endMs: 250, worker: 0 }, { startMs: 100, endMs: 180 }] } : d.id === 'cloud1' ? { ...d, busyUntilMs: 90 } : d));
  const out: Array<{ name: string; request: PlanRequest }> = [
    { name: 'chain', request: { graph: chainGraph(8, (i) => ({ flops: 1e9 * (1 + (i % 3)), outputBytes: 300_000 / i, paramBytes: 1e6 })), devices: carEdgeCloud(), origin: 'car1' } },
    { name: 'residual', request: { graph: residual, devices: carEdgeCloud(), origin: 'car1' } },
    { name: 'residual, queued multi-worker edge, lossy', request: { graph: residual, devices: busy, origin: 'car1', transport: { allowLossy: true } } },
    { name: 'fusion with a data source on the edge', request: { graph: fusion, devices: carEdgeCloud(), origin: 'car1' } },
    { name: 'dense shards spread by memory', request: { graph: sharded, devices: smallDevices(), origin: 'pi' } },
    { name: 'cloud excluded', request: { graph: residual, devices: carEdgeCloud(), origin: 'car1', excludeDevices: ['cloud1'] } },
  ];
  for (let seed = 1; seed <= 6; seed++) {
    out.push({ name: `random ${seed}`, request: randomRequest({ tasks: 12, devices: 4, ccr: [0.2, 1, 5][seed % 3]!, heterogeneity: 0.8, seed }) });
  }
  return out;
}

test('planner invariants — every algorithm, every objective: tasks placed, precedence and transfers, executors, memory, pins, stages', () => {
  let checked = 0;
  for (const { name, request } of cases()) {
    for (const objective of OBJECTIVES) {
      for (const algorithm of ALGORITHM_NAMES) {
        const outcome = planJob({ ...request, objective, algorithm });
        if (!outcome.ok) {
          // Only fixed-shape baselines may fail, and only with a typed reason.
          assert.ok(['local', 'edge', 'cloud', 'neurosurgeon', 'dads', 'chain-dp'].includes(algorithm), `${name}/${algorithm}: ${JSON.stringify(outcome.issues)}`);
          assert.ok(['E_INFEASIBLE', 'E_NO_DEVICES'].includes(outcome.issues[0]!.code));
          continue;
        }
        const violations = checkPlanInvariants(request, outcome.plan);
        assert.deepEqual(violations, [], `${name} / ${objective.kind} / ${algorithm}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 300, `only ${checked} plans checked`);
});

test('planner invariants — auto is never worse than any heuristic under the objective', () => {
  for (const { name, request } of cases()) {
    for (const objective of OBJECTIVES) {
      const auto = planJob({ ...request, objective, algorithm: 'auto' });
      assert.ok(auto.ok, name);
      for (const algorithm of ['heft', 'local', 'edge', 'cloud', 'neurosurgeon', 'dads', 'chain-dp'] as const) {
        const other = planJob({ ...request, objective, algorithm });
        if (other.ok) assert.ok(auto.plan.cost <= other.plan.cost * (1 + 1e-9), `${name}/${objective.kind}: auto ${auto.plan.cost} > ${algorithm} ${other.plan.cost}`);
      }
    }
  }
});

test('planner invariants — Dense shards go to different devices when no device holds them all', () => {
  const outcome = planJob({ graph: sharded, devices: smallDevices(), origin: 'pi', algorithm: 'auto' });
  assert.ok(outcome.ok);
  const shardDevices = new Set([0, 1, 2, 3].map((i) => outcome.plan.placement[`fc1#${i}`]));
  assert.ok(shardDevices.size >= 2, `shards on ${[...shardDevices].join(', ')}`);
  const heft = planJob({ graph: sharded, devices: smallDevices(), origin: 'pi', algorithm: 'heft' });
  assert.ok(heft.ok);
  const local = planJob({ graph: sharded, devices: smallDevices(), origin: 'pi', algorithm: 'local' });
  assert.ok(!local.ok);
  assert.equal(local.issues[0]!.reason, 'memory');
  assert.match(local.issues[0]!.message, /"pi" needs/);
});

test('planner invariants — a stage with inputs from two devices is a join; the data source stays on its device', () => {
  const outcome = planJob({ graph: fusion, devices: carEdgeCloud(), origin: 'car1', algorithm: 'heft' });
  assert.ok(outcome.ok);
  assert.equal(outcome.plan.placement['map'], 'edge1');
  assert.equal(outcome.plan.placement['camera'], 'car1');
  const concat = outcome.plan.stages.find((s) => s.tasks.includes('concat'))!;
  const sources = new Set(concat.inputs.map((i) => outcome.plan.edges[i]!.fromStage));
  assert.equal(concat.join, sources.size >= 2);
  assert.ok(outcome.plan.stages.some((s) => s.localInputs.includes('map')));
});

test('planner invariants — the checker itself catches broken plans', () => {
  const request: PlanRequest = { graph: residual, devices: carEdgeCloud(), origin: 'car1' };
  const outcome = planJob({ ...request, algorithm: 'heft' });
  assert.ok(outcome.ok);
  const plan = outcome.plan;
  const early = structuredClone(plan);
  const last = early.tasks[early.tasks.length - 1]!;
  last.startMs -= 1;
  last.finishMs -= 1;
  assert.ok(checkPlanInvariants(request, early).some((v) => v.includes('before input')));
  const moved = structuredClone(plan);
  moved.placement['image'] = 'cloud1';
  assert.ok(checkPlanInvariants(request, moved).some((v) => v.includes('pinned')));
  const tight: PlanRequest = { ...request, devices: request.devices.map((d) => ({ ...d, memoryBytes: 1000 })) };
  assert.ok(checkPlanInvariants(tight, plan).some((v) => v.includes('needs')));
});
