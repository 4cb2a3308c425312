import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { buildInstance, exactSearch, planJob, type Instance, type Objective, type PlanRequest } from '../../planner/core/index.ts';
import { bruteForce } from '../support/planner-brute-force.ts';
import { chainGraph, makeGraph, randomRequest, rng } from '../support/planner-fixtures.ts';
import { checkPlanInvariants } from '../support/planner-invariants.ts';

const OBJECTIVES: Objective[] = [
  { kind: 'latency' },
  { kind: 'energy' },
  { kind: 'energy-total' },
  { kind: 'weighted', latencyWeight: 1, energyWeight: 0.4 },
];

function instanceOf(request: PlanRequest): Instance {
  const built = buildInstance(request);
  assert.ok(built.ok, JSON.stringify(!built.ok && built.issues));
  return built.inst;
}

const sameCost = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/** Random small requests with the features exact must respect: queues, executors, memory, lossy cuts. */
function variants(seed: number): PlanRequest[] {
  const r = rng(seed * 7919);
  const n = 4 + (seed % 4);
  const D = 2 + (seed % 2);
  const base = randomRequest({ tasks: n, devices: D, ccr: [0.2, 1, 4][seed % 3]!, heterogeneity: 0.6, seed });
  const out: PlanRequest[] = [base];
  // Queued work and two executors on a server.
  out.push({
    ...base,
    devices: base.devices.map((d, i) => (i === 1 ? { ...d, workers: 2, busy: [{ startMs: 5, endMs: 40 + r() * 100, worker: 0 }] } : i === 2 ? { ...d, busyUntilMs: 30 + r() * 60 } : d)),
  });
  // Tight memory: weights that do not all fit on one server.
  const heavy = makeGraph(base.graph.tasks.map((t) => ({ id: t.id, preds: t.preds, outputBytes: t.outputBytes, flops: 0, paramBytes: t.preds.length === 0 ? 0 : 40 + Math.floor(r() * 60) })), 'heavy');
  out.push({ ...base, graph: heavy, devices: base.devices.map((d, i) => ({ ...d, memoryBytes: i === 0 ? 120 : 150 + Math.floor(r() * 100) })) });
  // Lossy cuts.
  out.push({ ...base, transport: { allowLossy: true, inputAsUint8: false } });
  // Links still carrying other jobs' data.
  out.push({
    ...base,
    devices: base.devices.map((d, i) => (i === 0 ? { ...d, uplinkBusyUntilMs: 10 + r() * 80, downlinkBusy: [{ startMs: 5, endMs: 25 + r() * 40 }] }
      : i === 1 ? { ...d, downlinkBusyUntilMs: 20 + r() * 120, uplinkBusy: [{ startMs: 10, endMs: 30 }, { startMs: 60, endMs: 90 + r() * 60 }] } : d)),
  });
  return out;
}

test('planner exact — equals brute force on random small instances, every objective, queues, executors, memory, lossy cuts, busy links', () => {
  let compared = 0;
  for (let seed = 1; seed <= 24; seed++) {
    for (const request of variants(seed)) {
      for (const objective of OBJECTIVES) {
        const inst = instanceOf({ ...request, objective });
        const exact = exactSearch(inst, { maxNodes: 1e6 });
        const brute = bruteForce(inst);
        assert.ok(exact.complete);
        if (brute === null) {
          assert.equal(exact.placement, null, `seed ${seed}: brute force found nothing feasible, exact did`);
          continue;
        }
        assert.ok(exact.score !== null, `seed ${seed} ${objective.kind}: exact found nothing, brute force ${brute.score.cost}`);
        assert.ok(sameCost(exact.score.cost, brute.score.cost), `seed ${seed} ${objective.kind}: exact ${exact.score.cost} vs brute force ${brute.score.cost}`);
        compared++;
      }
    }
  }
  assert.ok(compared > 380);
});

test('planner exact — equals brute force under a deadline and an energy budget, and reports infeasible ones', () => {
  for (let seed = 30; seed < 50; seed++) {
    const base = randomRequest({ tasks: 6, devices: 3, ccr: 1, heterogeneity: 0.5, seed });
    const fastest = planJob({ ...base, algorithm: 'exact' });
    assert.ok(fastest.ok);
    const deadlineMs = fastest.plan.predictedLatencyMs * (seed % 2 === 0 ? 1.3 : 0.9);
    for (const request of [
      { ...base, objective: { kind: 'energy' } as Objective, constraints: { deadlineMs } },
      { ...base, objective: { kind: 'latency' } as Objective, constraints: { energyBudgetJ: fastest.plan.originEnergyJ * 0.8 } },
    ]) {
      const inst = instanceOf(request);
      const exact = exactSearch(inst, { maxNodes: 1e6 });
      const brute = bruteForce(inst);
      assert.equal(exact.placement === null, brute === null, `seed ${seed}: feasibility differs`);
      if (brute && exact.score) assert.ok(sameCost(exact.score.cost, brute.score.cost), `seed ${seed}: ${exact.score.cost} vs ${brute.score.cost}`);
      const planned = planJob({ ...request, algorithm: 'exact' });
      if (brute === null) {
        assert.ok(!planned.ok);
        assert.equal(planned.issues[0]!.code, 'E_INFEASIBLE');
      } else {
        assert.ok(planned.ok);
        assert.deepEqual(checkPlanInvariants(request, planned.plan), []);
      }
    }
  }
});

test('planner exact — equals brute force in serial timing (the Neurosurgeon/DADS model)', () => {
  for (let seed = 60; seed < 80; seed++) {
    const base = randomRequest({ tasks: 6, devices: 3, ccr: 1.5, heterogeneity: 0.5, seed });
    const inst = instanceOf({ ...base, cost: { timing: 'serial' } });
    const exact = exactSearch(inst, { maxNodes: 1e6 });
    const brute = bruteForce(inst)!;
    assert.ok(sameCost(exact.score!.cost, brute.score.cost), `seed ${seed}`);
  }
});

test('planner chain-dp — equals exact on chains over 2-4 devices, every objective, with queued devices and busy links', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const r = rng(seed);
    const k = 3 + (seed % 6);
    const graph = chainGraph(k, (i) => ({ flops: 1e8 + r() * 3e9, outputBytes: Math.round(1e3 + r() * 4e5 / i), paramBytes: Math.round(r() * 1e6) }));
    const base = randomRequest({ tasks: 4, devices: 2 + (seed % 3), ccr: 1, heterogeneity: 0.5, seed });
    const devices = base.devices.map(({ profileMs: _p, ...d }, i) => (seed % 4 === 0 && i === 1 ? { ...d, busy: [{ startMs: 20, endMs: 300 }] }
      : seed % 4 === 1 && i === 1 ? { ...d, downlinkBusyUntilMs: 50 + r() * 400, uplinkBusyUntilMs: r() * 200 } : d));
    for (const objective of OBJECTIVES) {
      const request: PlanRequest = { graph, devices, origin: base.origin, objective };
      const dp = planJob({ ...request, algorithm: 'chain-dp' });
      const exact = planJob({ ...request, algorithm: 'exact' });
      assert.ok(dp.ok && exact.ok);
      assert.equal(exact.plan.diagnostics.optimal, true);
      assert.equal(dp.plan.diagnostics.optimal, true);
      assert.ok(sameCost(dp.plan.cost, exact.plan.cost), `seed ${seed} ${objective.kind}: chain-dp ${dp.plan.cost} vs exact ${exact.plan.cost}`);
    }
  }
});

test('planner dads — equals exact on two-device DAGs under its assumptions (serial timing), every objective', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const base = randomRequest({ tasks: 5 + (seed % 5), devices: 2, ccr: [0.3, 1, 3][seed % 3]!, heterogeneity: 0.5, seed: 500 + seed });
    for (const objective of [{ kind: 'latency' }, { kind: 'energy' }, { kind: 'weighted', latencyWeight: 1, energyWeight: 2 }] as Objective[]) {
      const request: PlanRequest = { ...base, objective, cost: { timing: 'serial' } };
      const dads = planJob({ ...request, algorithm: 'dads' });
      const exact = planJob({ ...request, algorithm: 'exact' });
      assert.ok(dads.ok && exact.ok);
      assert.ok(sameCost(dads.plan.cost, exact.plan.cost), `seed ${seed} ${objective.kind}: dads ${dads.plan.cost} vs exact ${exact.plan.cost}`);
    }
  }
});

test('planner neurosurgeon — is the best single split: equals brute force over splits of a chain', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const r = rng(seed + 99);
    const graph = chainGraph(6, (i) => ({ flops: 1e9 * (0.2 + r()), outputBytes: Math.round(2e5 * r() / i) + 100 }));
    const base = randomRequest({ tasks: 4, devices: 2, ccr: 1, heterogeneity: 0.5, seed });
    const request: PlanRequest = { graph, devices: base.devices.map(({ profileMs: _p, ...d }) => d), origin: base.origin };
    const ns = planJob({ ...request, algorithm: 'neurosurgeon' });
    assert.ok(ns.ok);
    let best = Infinity;
    const order = ['input', 'l1', 'l2', 'l3', 'l4', 'l5', 'l6'];
    for (let k = 1; k <= order.length; k++) {
      const pins = Object.fromEntries(order.map((id, i) => [id, i < k ? 'iot0' : 'srv1']));
      const fixed = planJob({ ...request, pins, algorithm: 'local' });
      assert.ok(fixed.ok);
      best = Math.min(best, fixed.plan.predictedLatencyMs);
    }
    assert.ok(sameCost(ns.plan.predictedLatencyMs, best), `seed ${seed}: ${ns.plan.predictedLatencyMs} vs ${best}`);
  }
});
