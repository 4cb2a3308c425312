import { before, test } from 'node:test';
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import {
  compileStage, maxAbsDifference, predictNamed, randomInput, resolveModel, runPartition, runStages, taskGraphOf,
  type LoadedModel, type TensorMap,
} from '../../models/index.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import { CACHE_DIR } from '../support/models-fixtures.ts';
import { SETUP_TIMEOUT_MS } from '../support/wait.ts';

let resnet: LoadedModel;
let chain: LoadedModel;
let fusion: LoadedModel;

before(async () => {
  resnet = await resolveModel('resnet18', { cacheDir: CACHE_DIR });
  chain = await resolveModel('chain', { cacheDir: CACHE_DIR });
  fusion = await resolveModel('fusion', { cacheDir: CACHE_DIR });
}, { timeout: SETUP_TIMEOUT_MS });

const dispose = (m: TensorMap): void => tf.dispose(Object.values(m));

test('models stage — 100 runs of a stage leave tf.memory().numTensors where it started', () => {
  const graph = taskGraphOf(resnet, {});
  // A stage that cuts into a residual block from both sides, with a fork inside.
  const ids = ['conv2_block2_add', 'conv2_block2_out', 'conv3_block1_0_conv', 'conv3_block1_0_bn', 'conv3_block1_1_conv', 'conv3_block1_1_bn', 'conv3_block1_1_relu'];
  const stage = compileStage(resnet, ids, graph);
  assert.deepEqual(stage.inputNames, ['conv2_block1_out', 'conv2_block2_2_bn']);
  assert.deepEqual(stage.outputNames, ['conv3_block1_0_bn', 'conv3_block1_1_relu']);
  const inputs: TensorMap = {
    conv2_block1_out: tf.randomUniform([1, 56, 56, 64]),
    conv2_block2_2_bn: tf.randomUniform([1, 56, 56, 64]),
  };
  dispose(stage.run(inputs));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) dispose(stage.run(inputs));
  assert.equal(tf.memory().numTensors, before);
  dispose(inputs);
});

test('models stage — a whole plan of stages leaks nothing either', () => {
  const graph = taskGraphOf(fusion, { fused: true });
  const inputs = randomInput(fusion, 3);
  const partition = [['camera', 'cam1_relu'], ['sensor', 'sensor1_pool', 'sensor_pool'], graph.tasks.map((t) => t.id).filter((id) => !['camera', 'cam1_relu', 'sensor', 'sensor1_pool', 'sensor_pool'].includes(id))];
  dispose(runPartition(fusion, graph, partition, inputs));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) dispose(runPartition(fusion, graph, partition, inputs));
  assert.equal(tf.memory().numTensors, before);
  dispose(inputs);
});

test('models stage — a stage is built once per (model, task set) and cached', () => {
  const graph = taskGraphOf(chain, {});
  const a = compileStage(chain, ['conv2', 'pool2', 'flatten'], graph);
  const b = compileStage(chain, ['flatten', 'conv2', 'pool2'], graph);
  assert.equal(a, b);
  const fused = taskGraphOf(chain, { fused: true });
  assert.deepEqual(fused.tasks.find((t) => t.id === 'flatten')?.layers, ['conv2', 'pool2', 'flatten']);
  const c = compileStage(chain, ['flatten'], fused);
  assert.deepEqual([c.inputNames, c.outputNames], [a.inputNames, a.outputNames]);
  assert.equal(c.key, a.key, 'the same computation is the same compiled stage, fused or not');
});

test('models stage — outputs belong to the caller; inputs stay the caller\'s', () => {
  const graph = taskGraphOf(chain, {});
  const inputs = randomInput(chain, 1);
  const first = compileStage(chain, ['conv1_input', 'conv1'], graph);
  assert.deepEqual(first.inputNames, ['conv1_input']);
  const out = first.run(inputs);
  assert.deepEqual(Object.keys(out), ['conv1']);
  const onlyInput = compileStage(chain, ['conv1_input'], graph).run(inputs);
  dispose(onlyInput);
  assert.equal(inputs['conv1_input']!.isDisposed, false, 'disposing a pass-through output keeps the caller\'s input');
  const rest = compileStage(chain, graph.tasks.slice(2).map((t) => t.id), graph).run(out);
  dispose(out);
  const reference = predictNamed(chain, inputs);
  assert.equal(maxAbsDifference(reference, rest), 0);
  dispose(rest);
  dispose(reference);
  dispose(inputs);
});

test('models stage — missing and misshapen inputs are E_INPUT errors, and nothing leaks', () => {
  const graph = taskGraphOf(chain, {});
  const stage = compileStage(chain, ['conv2'], graph);
  const before = tf.memory().numTensors;
  assert.throws(() => stage.run({}), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_INPUT' && /needs tensor pool1/.test(err.message));
  const wrong = tf.zeros([1, 8, 8, 3]);
  assert.throws(() => stage.run({ pool1: wrong }), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_INPUT' && /expects \[batch, 16, 16, 16\]/.test(err.message));
  wrong.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('models stage — Dense shards give the same output as the whole layer, each holding its share of weights', () => {
  const graph = taskGraphOf(chain, { denseShards: { fc1: 3, predictions: 2 } });
  const inputs = randomInput(chain, 5);
  const reference = predictNamed(chain, inputs);
  const out = runPartition(chain, graph, graph.tasks.map((t) => [t.id]), inputs);
  assert.ok(maxAbsDifference(reference, out) <= 1e-6);
  const shardBytes = graph.tasks.filter((t) => t.kind === 'DenseShard' && t.layers[0] === 'fc1').map((t) => t.paramBytes);
  assert.deepEqual(shardBytes, [21, 21, 22].map((cols) => (2048 * cols + cols) * 4));
  dispose(out);
  dispose(reference);
  dispose(inputs);
});

test('models stage — runStages reports a stage whose input nobody produced', () => {
  const graph = taskGraphOf(chain, {});
  const late = compileStage(chain, ['fc1'], graph);
  assert.throws(() => runStages([late], {}), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_STAGE' && /needs flatten/.test(err.message));
});
