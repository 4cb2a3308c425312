import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { planJob, type PlanRequest } from '../../planner/core/index.ts';
import type { TaskGraph } from '../../schemas/graph.ts';
import { carEdgeCloud, chainGraph, makeGraph } from '../support/planner-fixtures.ts';

const good = (): PlanRequest => ({ graph: chainGraph(3), devices: carEdgeCloud(), origin: 'car1' });

function issuesOf(request: PlanRequest): Array<{ code: string; message: string; reason?: string }> {
  const outcome = planJob(request);
  assert.ok(!outcome.ok, 'expected issues');
  return outcome.issues;
}

const graphWith = (mutate: (g: TaskGraph) => void): TaskGraph => {
  const g = structuredClone(chainGraph(3));
  mutate(g);
  return g;
};

const BAD_GRAPHS: Array<[string, TaskGraph, RegExp]> = [
  ['a cycle', graphWith((g) => {
    g.tasks[1]!.preds.push('l3');
    g.tasks[3]!.succs.push('l1');
  }), /cycle/],
  ['a dangling predecessor', graphWith((g) => { g.tasks[2]!.preds.push('ghost'); }), /unknown predecessor "ghost"/],
  ['a duplicate id', graphWith((g) => { g.tasks.push({ ...g.tasks[1]! }); }), /duplicate task id "l1"/],
  ['asymmetric preds/succs', graphWith((g) => { g.tasks[1]!.succs = []; }), /does not list it as a successor/],
  ['a self loop', graphWith((g) => {
    g.tasks[2]!.preds.push('l2');
    g.tasks[2]!.succs.push('l2');
  }), /depends on itself/],
  ['negative flops', graphWith((g) => { g.tasks[1]!.flops = -1; }), /flops must be a finite number >= 0/],
  ['NaN bytes', graphWith((g) => { g.tasks[1]!.outputBytes = Number.NaN; }), /outputBytes/],
  ['no tasks', { modelId: 'x', tasks: [], inputs: [], outputs: [] }, /no tasks/],
  ['an unknown output', graphWith((g) => { g.outputs = ['nope']; }), /unknown task "nope"/],
  ['an input with predecessors', graphWith((g) => { g.inputs = ['l2']; }), /input task "l2" has predecessors/],
  ['not an object', null as unknown as TaskGraph, /must be an object/],
];

for (const [what, graph, message] of BAD_GRAPHS) {
  test(`planner validation — a graph with ${what} is rejected with E_BAD_DAG, not a crash`, () => {
    const issues = issuesOf({ ...good(), graph });
    assert.equal(issues[0]!.code, 'E_BAD_DAG');
    assert.match(issues.map((i) => i.message).join('\n'), message);
  });
}

test('planner validation — a long cycle in a large graph is found quickly (no hang)', () => {
  const tasks = Array.from({ length: 5000 }, (_, i) => ({ id: `t${i}`, preds: i === 0 ? ['t4999'] : [`t${i - 1}`] }));
  const graph = makeGraph(tasks);
  graph.tasks[4999]!.succs.push('t0');
  const started = performance.now();
  const issues = issuesOf({ ...good(), graph });
  assert.equal(issues[0]!.code, 'E_BAD_DAG');
  assert.ok(performance.now() - started < 2000);
});

const BAD_REQUESTS: Array<[string, (r: PlanRequest) => PlanRequest, string, RegExp]> = [
  ['an unknown algorithm', (r) => ({ ...r, algorithm: 'magic' }), 'E_UNKNOWN_ALGORITHM', /unknown algorithm "magic"; known: auto, local/],
  ['no devices', (r) => ({ ...r, devices: [] }), 'E_NO_DEVICES', /no devices/],
  ['an origin not among the devices', (r) => ({ ...r, origin: 'phone' }), 'E_NO_DEVICES', /origin device "phone" is not among the devices/],
  ['an excluded origin', (r) => ({ ...r, excludeDevices: ['car1'] }), 'E_NO_DEVICES', /excluded/],
  ['a task pinned to an unknown device', (r) => ({ ...r, pins: { l2: 'mars' } }), 'E_INFEASIBLE', /pinned to device "mars"/],
  ['pins naming an unknown task', (r) => ({ ...r, pins: { ghost: 'car1' } }), 'E_CONFIG', /unknown task "ghost"/],
  ['a negative speed', (r) => ({ ...r, devices: r.devices.map((d, i) => (i === 1 ? { ...d, speed: -1 } : d)) }), 'E_CONFIG', /speed must be a number > 0/],
  ['a duplicate device id', (r) => ({ ...r, devices: [...r.devices, r.devices[0]!] }), 'E_CONFIG', /duplicate device id "car1"/],
  ['an unknown power preset', (r) => ({ ...r, devices: r.devices.map((d, i) => (i === 0 ? { ...d, power: 'toaster' as never } : d)) }), 'E_CONFIG', /unknown power preset "toaster"/],
  ['busy power below idle power', (r) => ({ ...r, devices: r.devices.map((d, i) => (i === 0 ? { ...d, power: { idleW: 5, busyW: 1 } } : d)) }), 'E_CONFIG', /below idle power/],
  ['a weighted objective with zero weights', (r) => ({ ...r, objective: { kind: 'weighted', latencyWeight: 0, energyWeight: 0 } }), 'E_CONFIG', /not both 0/],
  ['a negative deadline', (r) => ({ ...r, constraints: { deadlineMs: -5 } }), 'E_CONFIG', /deadlineMs must be a number > 0/],
];

for (const [what, mutate, code, message] of BAD_REQUESTS) {
  test(`planner validation — ${what} comes back as ${code}`, () => {
    const issues = issuesOf(mutate(good()));
    assert.equal(issues[0]!.code, code);
    assert.match(issues.map((i) => i.message).join('\n'), message);
  });
}

test('planner validation — an unreachable deadline is a typed infeasibility with the predicted latency, for every algorithm', () => {
  for (const algorithm of ['auto', 'heft', 'exact', 'local', 'chain-dp']) {
    const issues = issuesOf({ ...good(), algorithm, constraints: { deadlineMs: 0.001 } });
    assert.equal(issues[0]!.code, 'E_INFEASIBLE', algorithm);
    assert.equal(issues[0]!.reason, 'deadline', algorithm);
  }
  const auto = issuesOf({ ...good(), constraints: { deadlineMs: 0.001 } });
  assert.match(auto[0]!.message, /predicted latency [\d.]+ ms exceeds the deadline of 0.001 ms/);
});

test('planner validation — an energy budget the origin cannot meet is a typed infeasibility', () => {
  const issues = issuesOf({ ...good(), algorithm: 'auto', constraints: { energyBudgetJ: 1e-9 } });
  assert.equal(issues[0]!.code, 'E_INFEASIBLE');
  assert.equal(issues[0]!.reason, 'energy-budget');
});

test('planner validation — a task too large for every device says so and suggests shards', () => {
  const graph = makeGraph([{ id: 'x', flops: 0 }, { id: 'fc', preds: ['x'], paramBytes: 2 ** 40 }]);
  const issues = issuesOf({ ...good(), graph });
  assert.equal(issues[0]!.code, 'E_INFEASIBLE');
  assert.equal(issues[0]!.reason, 'memory');
  assert.match(issues[0]!.message, /task "fc" needs .* MiB .* split large Dense layers into shards/);
});

test('planner validation — edge and cloud without such a device are E_NO_DEVICES', () => {
  const devices = carEdgeCloud().filter((d) => d.role !== 'cloud');
  const issues = issuesOf({ ...good(), devices, algorithm: 'cloud' });
  assert.equal(issues[0]!.code, 'E_NO_DEVICES');
});

test('planner validation — a deadline met by a slower but greener plan is kept under the energy objective', () => {
  const fast = planJob({ ...good(), algorithm: 'exact' });
  assert.ok(fast.ok);
  const green = planJob({ ...good(), algorithm: 'exact', objective: { kind: 'energy' }, constraints: { deadlineMs: fast.plan.predictedLatencyMs * 1.5 } });
  assert.ok(green.ok);
  assert.ok(green.plan.predictedLatencyMs <= fast.plan.predictedLatencyMs * 1.5 + 1e-9);
  assert.ok(green.plan.originEnergyJ <= fast.plan.originEnergyJ + 1e-12);
});
