/**
 * Bring your own converted model: a model written in the layout tensorflowjs_converter gives
 * a Keras 2 model (Functional topology, Keras weight names, 4 MiB-style shards) loads through
 * resolveModel, predicts like the tfjs model it came from, and splits into a branching DAG.
 */
import { strict as assert } from 'node:assert';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as tf from '@tensorflow/tfjs';
import { disposeModel, getTaskGraph, initEngine, maxAbsDifference, predictNamed, randomInput, resolveModel } from '../../models/index.ts';
import type { LoadedModel } from '../../models/index.ts';
import { kerasStyleBranchedModel, writeKerasLayout } from '../support/keras-layout.ts';
import { tempDir } from '../support/models-fixtures.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

const SHARD_BYTES = 64 * 1024;
const SHARD_FILE = /^group1-shard(\d+)of(\d+)\.bin$/;
const KERAS_WEIGHTS = new Set(['kernel', 'bias', 'depthwise_kernel', 'gamma', 'beta', 'moving_mean', 'moving_variance']);
const LABELS = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

interface WrittenModelJson {
  format: string;
  generatedBy: string;
  convertedBy: string;
  modelTopology: {
    keras_version: string;
    backend: string;
    model_config: { class_name: string; config: { name: string; layers: Array<{ class_name: string; name: string; config: Record<string, unknown> }> } };
  };
  weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[]; dtype: string }> }>;
  userDefinedMetadata?: Record<string, unknown>;
}

describe('models keras layout', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
  const originals: tf.LayersModel[] = [];
  const loaded: LoadedModel[] = [];
  let dirs: [string, string];
  let json: WrittenModelJson;

  before(async () => {
    await initEngine();
    tmp = await tempDir('keras-layout');
    dirs = [path.join(tmp.dir, 'seed1'), path.join(tmp.dir, 'seed2')];
    for (const [i, dir] of dirs.entries()) {
      const model = kerasStyleBranchedModel('model_1', i + 1);
      originals.push(model);
      await writeKerasLayout(model, dir, { shardBytes: SHARD_BYTES, metadata: { source: 'keras-layout test' }, labels: LABELS });
    }
    json = JSON.parse(await readFile(path.join(dirs[0], 'model.json'), 'utf8')) as WrittenModelJson;
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('models-keras-layout', [
      ['the loaded models', () => new Set(loaded).forEach(disposeModel)],
      ['the tfjs models', () => originals.forEach((m) => m.dispose())],
      ['the temp dir', tmp !== undefined && (() => tmp!.remove())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  async function load(dir: string): Promise<LoadedModel> {
    const model = await resolveModel(dir, { cache: false });
    loaded.push(model);
    return model;
  }

  it('keras layout — weights are split into several group1 shards of at most shardBytes, one weight spanning two', async () => {
    const shards = (await readdir(dirs[0])).filter((f) => SHARD_FILE.test(f)).sort((a, b) => Number(SHARD_FILE.exec(a)![1]) - Number(SHARD_FILE.exec(b)![1]));
    assert.ok(shards.length >= 3, `only ${shards.length} shard files`);
    assert.deepEqual(json.weightsManifest.length, 1, 'one weight group, as the converter writes by default');
    assert.deepEqual(json.weightsManifest[0]!.paths, shards);
    assert.ok(shards.every((f) => SHARD_FILE.exec(f)![2] === String(shards.length)));
    const sizes = await Promise.all(shards.map(async (f) => (await stat(path.join(dirs[0], f))).size));
    assert.ok(sizes.every((s) => s <= SHARD_BYTES));
    assert.ok(sizes.slice(0, -1).every((s) => s === SHARD_BYTES), 'every shard but the last is full');
    const weights = json.weightsManifest[0]!.weights;
    const ends = weights.reduce<number[]>((acc, w) => [...acc, (acc.at(-1) ?? 0) + w.shape.reduce((a, b) => a * b, 1) * 4], []);
    assert.equal(sizes.reduce((a, b) => a + b, 0), ends.at(-1));
    assert.ok(weights.some((_, i) => Math.floor((ends[i - 1] ?? 0) / SHARD_BYTES) < Math.floor((ends[i]! - 1) / SHARD_BYTES)), 'some weight spans two shards');
  });

  it('keras layout — model.json is a Keras 2 Functional model with Keras weight names, layer by layer', () => {
    assert.equal(json.format, 'layers-model');
    assert.equal(json.generatedBy, 'keras v2.13.1');
    assert.equal(json.convertedBy, 'TensorFlow.js Converter v4.22.0');
    assert.equal(json.modelTopology.keras_version, '2.13.1');
    assert.equal(json.modelTopology.backend, 'tensorflow');
    assert.equal(json.modelTopology.model_config.class_name, 'Functional');
    assert.equal(json.modelTopology.model_config.config.name, 'model_1');
    assert.deepEqual(json.userDefinedMetadata, { source: 'keras-layout test' });
    const layers = json.modelTopology.model_config.config.layers;
    const input = layers.find((l) => l.class_name === 'InputLayer')!;
    assert.deepEqual(input.config, { batch_input_shape: [null, 32, 32, 3], dtype: 'float32', sparse: false, ragged: false, name: 'input_1' });
    for (const l of layers.filter((x) => x.class_name !== 'InputLayer')) {
      assert.deepEqual(Object.keys(l.config).slice(0, 3), ['name', 'trainable', 'dtype'], `layer ${l.name}`);
    }

    const layerNames = layers.map((l) => l.name);
    const names = json.weightsManifest[0]!.weights.map((w) => w.name);
    assert.equal(new Set(names).size, names.length, 'weight names are unique');
    for (const name of names) {
      const [layer, weight, ...rest] = name.split('/');
      assert.equal(rest.length, 0, `${name} is <layer>/<weight>`);
      assert.ok(layerNames.includes(layer!), `${name} names an existing layer`);
      assert.ok(KERAS_WEIGHTS.has(weight!), `${name} has a Keras weight name, without a tfjs suffix`);
    }
    // Keras lists a layer's weights together, trainable first: tfjs lists all moving statistics last.
    const bn = names.indexOf('batch_normalization/gamma');
    assert.deepEqual(names.slice(bn, bn + 4), ['batch_normalization/gamma', 'batch_normalization/beta', 'batch_normalization/moving_mean', 'batch_normalization/moving_variance']);
    const byLayer = names.map((n) => n.split('/')[0]!);
    assert.deepEqual(byLayer.filter((l, i) => l !== byLayer[i - 1]), layerNames.filter((l) => byLayer.includes(l)), 'weights follow the layer order');
  });

  it('keras layout — resolveModel loads it and predicts what the tfjs model predicts', async () => {
    const model = await load(dirs[0]);
    assert.equal(model.source, 'file');
    assert.equal(model.modelId, 'model_1');
    assert.deepEqual(model.labels, LABELS);
    assert.deepEqual(model.inputs, [{ name: 'input_1', shape: [32, 32, 3] }]);
    assert.deepEqual(model.outputs, [{ name: 'dense_1', shape: [10] }]);
    const inputs = randomInput(model, 3);
    const got = predictNamed(model, inputs);
    const want = { dense_1: originals[0]!.predict(inputs['input_1']!) as tf.Tensor };
    const diff = maxAbsDifference(got, want);
    const probabilities = Array.from(got['dense_1']!.dataSync());
    for (const t of [...Object.values(inputs), ...Object.values(got), want.dense_1]) t.dispose();
    assert.ok(diff <= 1e-5, `max |diff| ${diff}`);
    assert.equal(probabilities.length, 10);
    assert.ok(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'softmax sums to 1');
  });

  it('keras layout — two seeds give the same model id and different hashes', async () => {
    const [a, b] = [await load(dirs[0]), await load(dirs[1])];
    assert.equal(a.modelId, 'model_1');
    assert.equal(b.modelId, 'model_1');
    assert.match(a.modelHash, /^[0-9a-f]{64}$/);
    assert.notEqual(a.modelHash, b.modelHash);
  });

  it('keras layout — the task graph forks after the stem and joins at add and concatenate', async () => {
    const graph = await getTaskGraph(dirs[0], { fused: false });
    assert.equal(graph.modelId, 'model_1');
    assert.deepEqual(graph.inputs, ['input_1']);
    assert.deepEqual(graph.outputs, ['dense_1']);
    const forks = graph.tasks.filter((t) => t.succs.length >= 2).map((t) => t.id);
    const joins = graph.tasks.filter((t) => t.preds.length >= 2).map((t) => t.id);
    assert.deepEqual(forks, ['re_lu_1']);
    assert.deepEqual(joins.sort(), ['add', 'concatenate']);
    assert.deepEqual([...graph.tasks.find((t) => t.id === 're_lu_1')!.succs].sort(), ['add', 'conv2d_3', 'depthwise_conv2d']);
  });
});
