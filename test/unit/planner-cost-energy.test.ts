import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import {
  estimateComputeMs, planJob, POWER_PRESETS, RADIO_MODELS, radioLegEnergyJ, resolveDevicePower, transferLegs, type PlanRequest,
} from '../../planner/core/index.ts';
import { carEdgeCloud, chainGraph, makeGraph } from '../support/planner-fixtures.ts';

const near = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

test('planner cost — transfer crosses the sender\'s uplink and the receiver\'s downlink, plus half of each RTT', () => {
  const cases: Array<[number, { upBps: number; downBps: number; rttMs: number }, { upBps: number; downBps: number; rttMs: number }, number]> = [
    [1e6, { upBps: 10e6, downBps: 20e6, rttMs: 10 }, { upBps: 50e6, downBps: 20e6, rttMs: 40 }, 800 + 5 + 400 + 20],
    [0, { upBps: 1e6, downBps: 1e6, rttMs: 4 }, { upBps: 1e6, downBps: 1e6, rttMs: 6 }, 5],
    [125_000, { upBps: 1e6, downBps: 1e6, rttMs: 0 }, { upBps: 2e6, downBps: 4e6, rttMs: 0 }, 1000 + 250],
  ];
  for (const [bytes, from, to, ms] of cases) near(transferLegs(bytes, from, to).totalMs, ms);
});

test('planner cost — compute from FLOPs scales by device speed and load, with the per-task overhead', () => {
  const cases: Array<[number, number, object, number]> = [
    [25e9, 1, {}, 1000.05],
    [25e9, 0.1, {}, 10000.5],
    [25e9, 1, { referenceFlopsPerSec: 50e9, taskOverheadMs: 0 }, 500],
    [1e9, 0.5, { loadFactor: 2, taskOverheadMs: 1 }, (40 + 1) / 0.5 * 2],
  ];
  for (const [flops, speed, options, ms] of cases) near(estimateComputeMs(flops, speed, options), ms);
});

test('planner energy — radio coefficients are those of Huang et al. (MobiSys 2012), Table 3', () => {
  assert.deepEqual({ ...RADIO_MODELS.lte }, { upAlphaMwPerMbps: 438.39, downAlphaMwPerMbps: 51.97, betaMw: 1288.04 });
  assert.deepEqual({ ...RADIO_MODELS.wifi }, { upAlphaMwPerMbps: 283.17, downAlphaMwPerMbps: 137.01, betaMw: 132.86 });
  assert.deepEqual({ ...RADIO_MODELS['3g'] }, { upAlphaMwPerMbps: 868.98, downAlphaMwPerMbps: 122.12, betaMw: 817.88 });
  // The paper's alpha_u / alpha_d ratios.
  near(RADIO_MODELS.lte.upAlphaMwPerMbps / RADIO_MODELS.lte.downAlphaMwPerMbps, 8.44, 1e-3);
  near(RADIO_MODELS.wifi.upAlphaMwPerMbps / RADIO_MODELS.wifi.downAlphaMwPerMbps, 2.07, 2e-3);
  near(RADIO_MODELS['3g'].upAlphaMwPerMbps / RADIO_MODELS['3g'].downAlphaMwPerMbps, 7.12, 1e-3);
});

test('planner energy — a radio leg costs alpha x Mbit + beta x seconds', () => {
  const cases: Array<['wifi' | 'lte' | '3g', 'up' | 'down', number, number, number]> = [
    ['wifi', 'up', 125_000, 100, (283.17 * 1 + 132.86 * 0.1) / 1000],
    ['lte', 'down', 1_250_000, 1000, (51.97 * 10 + 1288.04 * 1) / 1000],
    ['3g', 'up', 0, 20, (817.88 * 0.02) / 1000],
  ];
  for (const [radio, dir, bytes, ms, joules] of cases) near(radioLegEnergyJ(RADIO_MODELS[radio], dir, bytes, ms), joules);
});

test('planner energy — presets by name and by role, overridable per device', () => {
  assert.equal(POWER_PRESETS['raspberry-pi-4'].idleW, 2);
  assert.ok(POWER_PRESETS['raspberry-pi-4'].busyW >= 5 && POWER_PRESETS['raspberry-pi-4'].busyW <= 6);
  assert.equal(POWER_PRESETS['jetson-nano-5w'].busyW, 5);
  assert.equal(POWER_PRESETS['jetson-nano-10w'].busyW, 10);
  assert.equal(resolveDevicePower({ role: 'iot' }).preset, 'raspberry-pi-4');
  assert.equal(resolveDevicePower({ role: 'edge' }).preset, 'edge-server');
  assert.equal(resolveDevicePower({ role: 'cloud' }).preset, 'cloud-vm');
  assert.equal(resolveDevicePower({ role: 'iot' }).radio, 'wifi');
  assert.equal(resolveDevicePower({ role: 'cloud' }).radio, 'wired');
  const custom = resolveDevicePower({ role: 'iot', radio: 'lte', power: { preset: 'jetson-nano-10w', idleW: 1, radioModel: { betaMw: 1000 } } });
  assert.deepEqual(custom, { preset: 'jetson-nano-10w', idleW: 1, busyW: 10, radio: 'lte', radioModel: { upAlphaMwPerMbps: 438.39, downAlphaMwPerMbps: 51.97, betaMw: 1000 } });
});

const request = (): PlanRequest => ({
  graph: chainGraph(3, (i) => ({ flops: 5e9 * i, outputBytes: 100_000, paramBytes: 1000 })),
  devices: carEdgeCloud(),
  origin: 'car1',
});

test('planner energy — all on the origin: busy power x compute, nothing else', () => {
  const outcome = planJob({ ...request(), algorithm: 'local' });
  assert.ok(outcome.ok);
  const p = outcome.plan;
  const computeMs = p.tasks.reduce((s, t) => s + t.computeMs, 0);
  near(p.predictedLatencyMs, computeMs);
  near(p.originEnergyJ, (5.5 * computeMs) / 1000);
  assert.equal(p.predictedEnergyJ['cloud1'], 0);
  assert.equal(p.energy['car1']!.radioJ, 0);
});

test('planner energy — offloaded: the origin idles until the result is back and pays its radio; the server pays compute and radio time at idle power', () => {
  const outcome = planJob({ ...request(), algorithm: 'cloud' });
  assert.ok(outcome.ok);
  const p = outcome.plan;
  const originMs = p.tasks.filter((t) => t.device === 'car1').reduce((s, t) => s + t.computeMs, 0);
  const cloudMs = p.tasks.filter((t) => t.device === 'cloud1').reduce((s, t) => s + t.computeMs, 0);
  // Input as uint8 pixels up (wifi), result float32 down.
  const inBytes = Math.ceil((224 * 224 * 3 * 4) / 4);
  const upLeg = (inBytes * 8000) / 10e6 + 5;
  const downLegCloud = (inBytes * 8000) / 50e6 + 20;
  const resultBytes = 100_000;
  const upLegCloud = (resultBytes * 8000) / 50e6 + 20;
  const downLeg = (resultBytes * 8000) / 20e6 + 5;
  near(p.predictedLatencyMs, originMs + upLeg + downLegCloud + cloudMs + upLegCloud + downLeg, 1e-9);
  const originRadio = radioLegEnergyJ(RADIO_MODELS.wifi, 'up', inBytes, upLeg) + radioLegEnergyJ(RADIO_MODELS.wifi, 'down', resultBytes, downLeg);
  near(p.originEnergyJ, (5.5 * originMs + 2 * (p.predictedLatencyMs - originMs)) / 1000 + originRadio);
  near(p.predictedEnergyJ['cloud1']!, (60 * cloudMs + 15 * (downLegCloud + upLegCloud)) / 1000);
  const edge = p.edges.find((e) => e.toDevice === 'cloud1')!;
  assert.equal(edge.encoding, 'uint8');
  assert.equal(edge.bytes, inBytes);
});

test('planner cost — lossy transport picks the smallest allowed encoding per cut; profiles override FLOPs', () => {
  const lossy = planJob({ ...request(), algorithm: 'neurosurgeon', transport: { allowLossy: 'float16' }, pins: { l1: 'car1', l2: 'cloud1' } });
  assert.ok(lossy.ok);
  const cut = lossy.plan.edges.find((e) => e.tensor === 'l1')!;
  assert.equal(cut.encoding, 'float16');
  assert.equal(cut.bytes, 50_000);
  const int8 = planJob({ ...request(), algorithm: 'local', transport: { allowLossy: true }, pins: { l2: 'cloud1' } });
  assert.ok(int8.ok);
  assert.equal(int8.plan.edges.find((e) => e.tensor === 'l1')!.encoding, 'int8');
  const devices = carEdgeCloud().map((d) => (d.id === 'car1' ? { ...d, profileMs: { l1: 1, l2: 2, l3: 3 }, loadFactor: 2 } : d));
  const profiled = planJob({ ...request(), devices, algorithm: 'local' });
  assert.ok(profiled.ok);
  assert.deepEqual(profiled.plan.tasks.filter((t) => t.id !== 'input').map((t) => t.computeMs), [2, 4, 6]);
});

test('planner cost — queued work and several executors: tasks wait for busy time and run side by side', () => {
  const graph = makeGraph([
    { id: 'x', flops: 0, outputBytes: 10 },
    { id: 'a', preds: ['x'], flops: 25e9, outputBytes: 10 },
    { id: 'b', preds: ['x'], flops: 25e9, outputBytes: 10 },
    { id: 'y', preds: ['a', 'b'], flops: 0, outputBytes: 10 },
  ]);
  const solo = { id: 'host', role: 'edge' as const, speed: 1, memoryBytes: 2 ** 30, link: { upBps: 1e9, downBps: 1e9, rttMs: 0 }, busyUntilMs: 100 };
  const one = planJob({ graph, devices: [solo], origin: 'host', algorithm: 'local', cost: { taskOverheadMs: 0 } });
  const two = planJob({ graph, devices: [{ ...solo, workers: 2 }], origin: 'host', algorithm: 'local', cost: { taskOverheadMs: 0 } });
  assert.ok(one.ok);
  assert.ok(two.ok);
  near(one.plan.predictedLatencyMs, 100 + 2000 + 1e-6 * 2, 1e-6);
  near(two.plan.predictedLatencyMs, 100 + 1000 + 1e-6 * 2, 1e-6);
  assert.deepEqual(new Set(two.plan.tasks.filter((t) => t.id === 'a' || t.id === 'b').map((t) => t.worker)), new Set([0, 1]));
});

test('planner cost — a busy link delays transfers first in first out: uplink, then downlink', () => {
  // car1 -> cloud1 of 1 MB: 800 ms up + 5 ms, 160 ms down + 20 ms on idle links.
  const graph = makeGraph([{ id: 'x', flops: 0, outputBytes: 1e6 }, { id: 'y', preds: ['x'], flops: 0, outputBytes: 8 }]);
  const plan = (car: object, cloud: object): number => {
    const devices = carEdgeCloud().map((d) => (d.id === 'car1' ? { ...d, ...car } : d.id === 'cloud1' ? { ...d, ...cloud } : d));
    const out = planJob({ graph, devices, origin: 'car1', algorithm: 'local', pins: { y: 'cloud1' }, cost: { taskOverheadMs: 0 }, transport: { inputAsUint8: false } });
    assert.ok(out.ok, JSON.stringify(!out.ok && out.issues));
    const edge = out.plan.edges.find((e) => e.tensor === 'x')!;
    near(edge.arriveMs, edge.sendMs + edge.transferMs);
    return edge.arriveMs;
  };
  near(plan({}, {}), 800 + 5 + 160 + 20, 1e-6);
  // The car's uplink carries 300 ms of earlier data: everything shifts by 300 ms.
  near(plan({ uplinkBusyUntilMs: 300 }, {}), 300 + 800 + 5 + 160 + 20, 1e-6);
  // The cloud's downlink is busy until 900 ms: the down leg starts then, not at 805.
  near(plan({}, { downlinkBusyUntilMs: 900 }), 900 + 160 + 20, 1e-6);
  // A short downlink backlog that ends before the up leg does costs nothing.
  near(plan({}, { downlinkBusyUntilMs: 700 }), 800 + 5 + 160 + 20, 1e-6);
  // Links of devices the transfer does not cross do not matter.
  near(plan({ downlinkBusyUntilMs: 5000 }, { uplinkBusyUntilMs: 5000 }), 800 + 5 + 160 + 20, 1e-6);
});

test('planner cost — a server whose downlink is backed up loses the job to one that is free', () => {
  const graph = chainGraph(3, (i) => ({ flops: 5e9 * i, outputBytes: 100_000, paramBytes: 1000 }));
  const free = planJob({ graph, devices: carEdgeCloud(), origin: 'car1' });
  assert.ok(free.ok);
  const where = (p: typeof free): Set<string> => new Set(Object.values(p.ok ? p.plan.placement : {}));
  assert.ok(where(free).has('cloud1'), `on free links the cloud computes (${[...where(free)]})`);
  const devices = carEdgeCloud().map((d) => (d.id === 'cloud1' ? { ...d, downlinkBusyUntilMs: 20_000 } : d));
  const backed = planJob({ graph, devices, origin: 'car1' });
  assert.ok(backed.ok);
  assert.ok(!where(backed).has('cloud1'), `the cloud's downlink is busy for 20 s: placed on ${[...where(backed)]}`);
  assert.ok(backed.plan.predictedLatencyMs < 20_000);
  const bad = planJob({ graph, devices: carEdgeCloud().map((d) => (d.id === 'edge1' ? { ...d, uplinkBusyUntilMs: -1 } : d)), origin: 'car1' });
  assert.ok(!bad.ok);
  assert.equal(bad.issues[0]!.code, 'E_CONFIG');
  assert.match(bad.issues[0]!.message, /uplinkBusyUntilMs/);
});
