/**
 * Bring your own model, live: model.json files in the Keras converter's layout (several weight
 * shards, Keras weight names, a DAG with a chain and branches) held by devices and run with no
 * planner flag. Two different models share the id `model_1`; a device holds a third copy under
 * that id; a device is given a corrupt and an unsupported model beside good ones.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { startCluster, testLog, waitForDevices, type Cluster } from '../support/cluster.ts';
import { runCli } from '../support/process.ts';
import { closeTogether, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { kerasStyleBranchedModel, writeKerasLayout } from '../support/keras-layout.ts';
import { modelWithUnsupportedLayer, tempDir } from '../support/models-fixtures.ts';
import { saveModelFiles } from '../../models/io/file-handler.ts';
import { resolveModel, predictNamed, disposeModel, type LoadedModel } from '../../models/index.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { PlannerService } from '../../planner/service.ts';
import { ALGORITHM_NAMES } from '../../planner/core/registry.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { discoverFleet, resolveModelArgument } from '../../node-runtime/model-argument.ts';
import type { JobClient } from '../../node-runtime/client.ts';
import { decodeTensor } from '../../schemas/tensor-codec.ts';
import { JobStatus, Tensor, type JobInputInit, type JobResult } from '../../schemas/generated/edgeweave.ts';
import type { TaskGraph } from '../../schemas/graph.ts';

const TOLERANCE = 1e-4;
const LABELS = Array.from({ length: 10 }, (_, i) => `class-${i}`);

interface OwnModel {
  path: string;
  local: LoadedModel;
}

/** The model's output here, on the job's own inputs. */
function expected(model: LoadedModel, inputs: readonly JobInputInit[]): Float32Array {
  const feed: Record<string, tf.Tensor> = {};
  for (const input of inputs) {
    const data = decodeTensor(Tensor.create(input.tensor!));
    feed[input.taskId!] = tf.tensor(Float32Array.from(data.values), data.shape, 'float32');
  }
  const out = predictNamed(model, feed);
  const values = Object.values(out)[0]!.dataSync() as Float32Array;
  tf.dispose([...Object.values(out), ...Object.values(feed)]);
  return values;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'output sizes');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function output(result: JobResult): Float32Array {
  assert.equal(result.outputs.length, 1, 'one output');
  return decodeTensor(result.outputs[0]!).values as Float32Array;
}

/** Runs the edgeweave command to its end; its exit code and output. */
describe('bring your own model, live', () => {
  let cluster: Cluster | undefined;
  const planners: PlannerService[] = [];
  let dir: { dir: string; remove: () => Promise<void> };
  let a: OwnModel;
  let b: OwnModel;
  let c: OwnModel;
  let corrupt: string;
  let unsupported: string;
  let client: JobClient;
  let layerGraph: TaskGraph;

  before(async () => {
    dir = await tempDir('own-model');
    const write = async (name: string, seed: number, labels?: string[]): Promise<OwnModel> => {
      const model = kerasStyleBranchedModel('model_1', seed);
      const path = await writeKerasLayout(model, join(dir.dir, name), { shardBytes: 64 * 1024, labels, metadata: seed === 1 ? { preprocessing: 'tf' } : undefined });
      model.dispose();
      return { path, local: await resolveModel(path, { cache: false }) };
    };
    a = await write('a', 1, LABELS);
    b = await write('b', 2);
    c = await write('c', 3);
    corrupt = join(dir.dir, 'broken');
    await mkdir(corrupt, { recursive: true });
    await writeFile(join(corrupt, 'model.json'), '{"modelTopology": {"class_name": "Functional", ');
    unsupported = join(dir.dir, 'lstm');
    await saveModelFiles(modelWithUnsupportedLayer(), unsupported);
    layerGraph = await getTaskGraph(a.path, { fused: false });
    const models = [a.path, b.path];
    // No planner yet: it starts after the devices and learns their models from retained cards.
    cluster = await startCluster({
      planners: 0,
      devices: [
        { id: 'car1', role: 'iot', speed: 0.5, link: { upBps: 50e6, downBps: 50e6, rttMs: 4 }, models: [...models, corrupt, unsupported] },
        { id: 'edge1', role: 'edge', speed: 2, link: { upBps: 500e6, downBps: 500e6, rttMs: 1 }, models },
        { id: 'cloud1', role: 'cloud', speed: 4, link: { upBps: 200e6, downBps: 200e6, rttMs: 2 }, models },
        // Fastest of all, holding a differing copy under the same id: never given a stage of a or b.
        { id: 'edge2', role: 'edge', speed: 8, link: { upBps: 1e9, downBps: 1e9, rttMs: 1 }, models: [c.path] },
      ],
    });
    client = await cluster.client('car1');
  }, { timeout: 180_000 });

  after(async () => {
    await closeTogether('own-model', [
      ['planners', () => Promise.all(planners.map((p) => p.stop())), 10_000],
      ['cluster', () => cluster?.close() ?? Promise.resolve(), 70_000],
    ]);
    for (const m of [a, b, c]) if (m) disposeModel(m.local);
    await dir?.remove();
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  const startPlanner = async (id: string): Promise<PlannerService> => {
    const p = new PlannerService({ id, brokerUrl: cluster!.brokerUrl, algorithm: 'auto', log: testLog() });
    planners.push(p);
    await p.start();
    await waitForDevices([{ name: id, registry: p.registry }], ['car1', 'edge1', 'cloud1', 'edge2'].map((d) => ({ id: d, models: d === 'edge2' ? [c.path] : [a.path, b.path] })), 60_000);
    return p;
  };

  test('own model — a planner started after the devices plans their models, with no flag', async () => {
    const planner = await startPlanner('late');
    const inputs = await buildJobInputs(layerGraph, ['random:1']);
    const r = await client.submit({ model: { name: '', sha256: a.local.modelHash }, inputs, timeoutMs: 60_000 });
    assert.equal(r.result.status, JobStatus.JOB_STATUS_OK, r.result.error?.message);
    assert.ok(maxAbsDiff(output(r.result), expected(a.local, inputs)) <= TOLERANCE);
    assert.equal(r.plan?.model?.sha256, a.local.modelHash, 'the plan names the model by its hash');
    assert.equal(r.plan?.model?.name, 'model_1');
    // The corrupt and the unsupported model are reported in car1's status; car1 still serves a and b.
    const problems = planner.registry.get('car1')!.status.modelProblems;
    assert.deepEqual(problems.map((p) => p.code).sort(), ['E_MODEL_LOAD', 'E_UNSUPPORTED_LAYER']);
    assert.deepEqual(planner.registry.get('car1')!.status.modelRefs.map((m) => m.sha256).sort(), [a.local.modelHash, b.local.modelHash].sort());
  });

  test('own model — every algorithm, both models of one id: results equal local predict, edge2\'s copy never used', async () => {
    const failures: string[] = [];
    let split = 0;
    for (const model of [a, b]) {
      for (const [i, algorithm] of ALGORITHM_NAMES.entries()) {
        for (const fused of [false, true]) {
          const inputs = await buildJobInputs(layerGraph, [`random:${i + 10}`]);
          const r = await client.submit({ model: { name: 'model_1', sha256: model.local.modelHash }, inputs, algorithm, fused, timeoutMs: 60_000 });
          const what = `${model === a ? 'a' : 'b'} ${algorithm} ${fused ? 'fused' : 'layers'}`;
          if (r.result.status !== JobStatus.JOB_STATUS_OK) {
            failures.push(`${what}: ${r.result.error?.code} ${r.result.error?.message}`);
            continue;
          }
          const diff = maxAbsDiff(output(r.result), expected(model.local, inputs));
          if (diff > TOLERANCE) failures.push(`${what}: max abs difference ${diff}`);
          const devices = new Set(Object.values(r.result.placement));
          if (devices.has('edge2')) failures.push(`${what}: placed on edge2, whose copy differs`);
          if (devices.size > 1) split++;
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(split > 0, 'some plans split the model over several devices');
    assert.equal(cluster!.devices.get('edge2')!.executors[0]!.stagesRun(), 0, 'edge2 ran no stage');
  });

  test('own model — plans that cut inside the branches are exact', async () => {
    // Pin one branch of the fork to another device than the fork and the join.
    const fork = layerGraph.tasks.find((t) => t.succs.length >= 2)!;
    const join = layerGraph.tasks.find((t) => t.preds.length >= 2)!;
    const branch = layerGraph.tasks.find((t) => t.preds.includes(fork.id) && !t.succs.includes(join.id) && t.succs.length === 1) ?? layerGraph.tasks.find((t) => t.preds.includes(fork.id) && t.id !== join.id)!;
    for (const [where, other] of [['car1', 'edge1'], ['edge1', 'cloud1']] as const) {
      const tasks = layerGraph.tasks.map((t) => ({ ...t, pinnedDevice: t.id === branch.id ? other : t.id === fork.id || t.id === join.id ? where : '' }));
      const inputs = await buildJobInputs(layerGraph, ['random:99']);
      const r = await client.submit({ model: { name: 'model_1', sha256: b.local.modelHash }, tasks, inputs, algorithm: 'heft', fused: false, timeoutMs: 60_000 });
      assert.equal(r.result.status, JobStatus.JOB_STATUS_OK, r.result.error?.message);
      assert.equal(r.result.placement[branch.id], other);
      assert.equal(r.result.placement[fork.id], where);
      assert.equal(r.result.placement[join.id], where);
      assert.ok(maxAbsDiff(output(r.result), expected(b.local, inputs)) <= TOLERANCE, `cut inside the branch ${branch.id} (${where} / ${other})`);
    }
  });

  test('own model — an id naming two models is refused with the candidates; the origin\'s own copy decides', async () => {
    const inputs = await buildJobInputs(layerGraph, ['random:3']);
    const ambiguous = await client.submit({ model: { name: 'model_1' }, inputs, timeoutMs: 30_000 });
    assert.equal(ambiguous.result.status, JobStatus.JOB_STATUS_REJECTED);
    assert.equal(ambiguous.result.error?.code, 'E_MODEL_AMBIGUOUS');
    for (const m of [a, b]) assert.match(ambiguous.result.error!.message, new RegExp(m.local.modelHash.slice(0, 12)));
    // edge2 holds only c: from there, model_1 means c.
    const fromEdge2 = await cluster!.client('edge2');
    const r = await fromEdge2.submit({ model: { name: 'model_1' }, inputs, timeoutMs: 30_000 });
    assert.equal(r.result.status, JobStatus.JOB_STATUS_OK, r.result.error?.message);
    assert.equal(r.plan?.model?.sha256, c.local.modelHash);
    assert.ok(maxAbsDiff(output(r.result), expected(c.local, inputs)) <= TOLERANCE);
  });

  test('own model — jobs for a model a device could not load get its typed error at once', async () => {
    const inputs = await buildJobInputs(layerGraph, ['random:3']);
    const started = Date.now();
    const lstm = await client.submit({ model: { name: 'with_lstm' }, inputs, timeoutMs: 30_000 });
    assert.equal(lstm.result.status, JobStatus.JOB_STATUS_REJECTED);
    assert.equal(lstm.result.error?.code, 'E_UNSUPPORTED_LAYER');
    assert.match(lstm.result.error!.message, /car1/);
    const broken = await client.submit({ model: { name: 'broken' }, inputs, timeoutMs: 30_000 });
    assert.equal(broken.result.error?.code, 'E_MODEL_LOAD');
    const unknown = await client.submit({ model: { name: 'no_such_model' }, inputs, timeoutMs: 30_000 });
    assert.equal(unknown.result.error?.code, 'E_MODEL_NOT_FOUND');
    assert.match(unknown.result.error!.message, /model_1@/, 'the error names what the fleet holds');
    assert.ok(Date.now() - started < 10_000, 'answered at once, not after a timeout');
  });

  test('own model — discovery from retained messages alone: inputs, outputs, preprocessing, labels', async () => {
    const view = await discoverFleet({ brokerUrl: cluster!.brokerUrl, username: 'observer' });
    const card = view.fleet.card(a.local.modelHash);
    assert.ok(card, 'a card for a');
    assert.equal(card.model?.name, 'model_1');
    assert.deepEqual(card.inputs.map((i) => ({ name: i.name, shape: i.shape, dtype: i.dtype, preprocessing: i.preprocessing, declared: i.preprocessingDeclared, range: [i.rangeMin, i.rangeMax] })),
      [{ name: a.local.inputs[0]!.name, shape: [32, 32, 3], dtype: 'float32', preprocessing: 'tf', declared: true, range: [-1, 1] }]);
    assert.deepEqual(card.outputs.map((o) => ({ shape: o.shape, meaning: o.meaning })), [{ shape: [10], meaning: 'probabilities' }]);
    assert.deepEqual(card.labels, LABELS);
    assert.equal(view.fleet.card(b.local.modelHash)?.inputs[0]?.preprocessingDeclared, false, 'b states no preprocessing: the default, marked as such');
    assert.ok(view.fleet.card(c.local.modelHash), 'a card for c');
    // A client resolves a hash prefix from the cards alone, with the DAG to build inputs.
    const arg = await resolveModelArgument(b.local.modelHash.slice(0, 10), { fused: false, discover: () => Promise.resolve(view) });
    assert.equal(arg.ref.sha256, b.local.modelHash);
    assert.deepEqual(arg.graph.tasks.map((t) => t.id), layerGraph.tasks.map((t) => t.id));
  });

  test('own model — a restarted planner learns the models again', async () => {
    await planners[0]!.stop();
    await startPlanner('again');
    const inputs = await buildJobInputs(layerGraph, ['random:4']);
    const r = await client.submit({ model: { name: '', sha256: b.local.modelHash.slice(0, 12) }, inputs, timeoutMs: 60_000 });
    assert.equal(r.result.status, JobStatus.JOB_STATUS_OK, r.result.error?.message);
    assert.equal(r.plan?.plannerId, 'again');
    assert.ok(maxAbsDiff(output(r.result), expected(b.local, inputs)) <= TOLERANCE);
  });

  test('own model — `edgeweave run --model <path|hash>` from any device; an ambiguous id fails with the candidates', async () => {
    for (const from of ['car1', 'edge1', 'cloud1']) {
      const r = await runCli(['run', '--model', a.path, '--from', from, '--broker', cluster!.brokerUrl, '--json', '--data-dir', join(dir.dir, 'cli')]);
      assert.equal(r.code, 0, `run from ${from}: ${r.stderr}`);
      const record = JSON.parse(r.stdout) as { status: string; top: Array<{ label: string }> };
      assert.equal(record.status, 'ok');
      assert.ok(LABELS.includes(record.top[0]!.label), 'top classes carry the model\'s labels');
    }
    const byHash = await runCli(['run', '--model', c.local.modelHash.slice(0, 16), '--from', 'edge2', '--broker', cluster!.brokerUrl, '--json', '--data-dir', join(dir.dir, 'cli')]);
    assert.equal(byHash.code, 0, byHash.stderr);
    // A device given only models it cannot use says why and exits, leaving nothing behind.
    const started = Date.now();
    const lone = await runCli(['node', '--id', 'bad1', '--role', 'edge', '--models', `${corrupt},${unsupported}`, '--broker', cluster!.brokerUrl, '--data-dir', join(dir.dir, 'bad1')], 30_000);
    assert.equal(lone.code, 1, lone.stderr);
    assert.match(lone.stderr, /no model given can be used: .*broken.*is not valid JSON.*lstm.*LSTM/s);
    assert.ok(Date.now() - started < 20_000, 'it exits at once');
    const listed = await runCli(['models', 'fleet', '--broker', cluster!.brokerUrl, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const fleet = JSON.parse(listed.stdout) as { models: Array<{ id: string; sha256: string; heldBy: string[] }>; problems: Array<{ deviceId: string; code: string }> };
    assert.deepEqual(fleet.models.map((m) => m.sha256).sort(), [a, b, c].map((m) => m.local.modelHash).sort());
    assert.deepEqual(fleet.models.find((m) => m.sha256 === c.local.modelHash)?.heldBy, ['edge2']);
    assert.deepEqual(fleet.problems.map((p) => `${p.deviceId} ${p.code}`).sort(), ['car1 E_MODEL_LOAD', 'car1 E_UNSUPPORTED_LAYER']);
    const ambiguous = await runCli(['run', '--model', 'model_1', '--from', 'car1', '--broker', cluster!.brokerUrl, '--data-dir', join(dir.dir, 'cli')]);
    assert.notEqual(ambiguous.code, 0);
    assert.match(ambiguous.stderr, /E_MODEL_AMBIGUOUS/);
    assert.match(ambiguous.stderr, new RegExp(a.local.modelHash.slice(0, 12)));
  });
});
