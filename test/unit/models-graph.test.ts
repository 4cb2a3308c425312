import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { getTaskGraph } from '../../models/task-graph.ts';
import { zooModelNames } from '../../models/zoo/catalog.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import type { TaskGraph } from '../../schemas/graph.ts';
import { assertConsistentGraph } from '../support/models-graph-checks.ts';

const MIB = 1024 * 1024;
const params = (g: TaskGraph): number => g.tasks.reduce((s, t) => s + t.paramBytes, 0) / 4;
const flops = (g: TaskGraph): number => g.tasks.reduce((s, t) => s + t.flops, 0);
const task = (g: TaskGraph, id: string): TaskGraph['tasks'][number] => {
  const t = g.tasks.find((x) => x.id === id);
  assert.ok(t, `no task ${id}`);
  return t;
};

test('models graph — zoo DAGs have the published parameter counts and FLOPs', async () => {
  const vgg = await getTaskGraph('vgg16');
  assert.equal(params(vgg), 138_357_544);
  assert.ok(Math.abs(flops(vgg) / 1e9 - 30.97) < 0.05, `VGG16 GFLOPs ${flops(vgg) / 1e9}`);
  assert.equal(task(vgg, 'fc1').paramBytes, (25088 * 4096 + 4096) * 4);
  assert.ok(Math.abs(task(vgg, 'fc1').paramBytes / MIB - 392) < 1, 'fc1 holds ~392 MiB');
  assert.deepEqual(task(vgg, 'block5_pool').outputShape, [7, 7, 512]);
  assert.equal(task(vgg, 'block1_conv1').outputBytes, 224 * 224 * 64 * 4);
  assert.equal(params(await getTaskGraph('resnet50')), 25_636_712);
  assert.equal(params(await getTaskGraph('mobilenetv2')), 3_538_984);
});

test('models graph — every zoo DAG, fused or not, is consistent and topologically ordered', async () => {
  for (const name of zooModelNames()) {
    for (const fused of [false, true]) {
      const g = await getTaskGraph(name, { fused });
      assert.equal(g.modelId, name);
      assertConsistentGraph(g, assert.fail);
      for (const t of g.tasks) {
        assert.ok(t.activationBytes >= t.outputBytes, `${name} ${t.id}: activation covers the output`);
        assert.equal(t.outputBytes, t.outputShape.reduce((a, b) => a * b, 1) * 4);
      }
    }
  }
});

test('models graph — fusion keeps every layer once, the totals, and the tensor names', async () => {
  for (const name of zooModelNames()) {
    const plain = await getTaskGraph(name);
    const fused = await getTaskGraph(name, { fused: true });
    assert.ok(fused.tasks.length < plain.tasks.length, `${name} shrinks`);
    assert.deepEqual(fused.tasks.flatMap((t) => t.layers).sort(), plain.tasks.flatMap((t) => t.layers).sort());
    assert.equal(flops(fused), flops(plain));
    assert.equal(params(fused), params(plain));
    const plainIds = new Set(plain.tasks.map((t) => t.id));
    for (const t of fused.tasks) {
      assert.ok(plainIds.has(t.id), `${name}: fused task ${t.id} is named after a layer`);
      assert.equal(t.id, t.layers.at(-1), `${name}: a fused task is named after its last layer`);
      assert.deepEqual(t.outputShape, task(plain, t.id).outputShape);
    }
    assert.deepEqual(fused.inputs, plain.inputs);
    assert.deepEqual(fused.outputs, plain.outputs);
  }
});

test('models graph — residual blocks and inception modules become single tasks', async () => {
  const resnet = await getTaskGraph('resnet50', { fused: true });
  const block = task(resnet, 'conv2_block1_out');
  assert.equal(block.kind, 'ResidualBlock');
  assert.deepEqual(block.preds, ['pool1_pool']);
  assert.ok(block.layers.includes('conv2_block1_0_conv') && block.layers.includes('conv2_block1_add'));
  assert.equal(resnet.tasks.filter((t) => t.kind === 'ResidualBlock').length, 16);
  const inception = await getTaskGraph('inception', { fused: true });
  assert.equal(task(inception, 'mixed0').kind, 'ConcatBlock');
  assert.equal(task(inception, 'mixed0').layers.length, 23);
  const plain = await getTaskGraph('inception');
  assert.equal(task(plain, 'stem_pool').succs.length, 4, 'an inception module forks four ways');
  assert.equal(task(plain, 'mixed0').preds.length, 4, 'and joins four branches');
  assert.deepEqual(task(await getTaskGraph('vgg16', { fused: true }), 'block1_pool').layers, ['block1_conv2', 'block1_pool']);
  const fusion = await getTaskGraph('fusion', { fused: true });
  assert.deepEqual(fusion.inputs, ['camera', 'sensor']);
  assert.deepEqual(task(fusion, 'fuse').preds, ['cam_pool', 'sensor_pool']);
});

test('models graph — a Dense layer splits into column shards and a join with identical totals', async () => {
  const plain = await getTaskGraph('vgg16');
  const g = await getTaskGraph('vgg16', { denseShards: { fc1: 4, fc2: 3 } });
  assertConsistentGraph(g, assert.fail);
  const shards = g.tasks.filter((t) => t.kind === 'DenseShard' && t.layers[0] === 'fc1');
  assert.deepEqual(shards.map((t) => t.id), ['fc1#0', 'fc1#1', 'fc1#2', 'fc1#3']);
  for (const s of shards) {
    assert.deepEqual(s.preds, ['flatten']);
    assert.deepEqual(s.succs, ['fc1']);
    assert.deepEqual(s.outputShape, [1024]);
    assert.equal(s.paramBytes, task(plain, 'fc1').paramBytes / 4);
  }
  assert.deepEqual(task(g, 'flatten').succs, ['fc1#0', 'fc1#1', 'fc1#2', 'fc1#3']);
  const join = task(g, 'fc1');
  assert.equal(join.kind, 'DenseJoin');
  assert.deepEqual(join.preds, ['fc1#0', 'fc1#1', 'fc1#2', 'fc1#3']);
  assert.deepEqual(join.succs, ['fc2#0', 'fc2#1', 'fc2#2']);
  assert.deepEqual(g.tasks.filter((t) => t.layers[0] === 'fc2' && t.kind === 'DenseShard').map((t) => t.outputShape[0]), [1365, 1365, 1366]);
  assert.equal(params(g), params(plain));
  // Fusion leaves shards alone.
  const fused = await getTaskGraph('vgg16', { fused: true, denseShards: { fc1: 4 } });
  assert.equal(fused.tasks.filter((t) => t.kind === 'DenseShard').length, 4);
});

test('models graph — maxParamBytes shards every Dense layer above the limit', async () => {
  const g = await getTaskGraph('vgg16', { denseShards: { maxParamBytes: 100 * MIB } });
  assert.equal(g.tasks.filter((t) => t.layers[0] === 'fc1' && t.kind === 'DenseShard').length, 4);
  assert.equal(g.tasks.filter((t) => t.layers[0] === 'fc2' && t.kind === 'DenseShard').length, 0);
  for (const t of g.tasks) if (t.kind === 'DenseShard') assert.ok(t.paramBytes <= 100 * MIB);
});

test('models graph — bad shard requests are E_CONFIG errors naming the layer', async () => {
  const code = (re: RegExp) => (err: unknown): boolean => isEdgeweaveError(err) && err.code === 'E_CONFIG' && re.test(err.message);
  await assert.rejects(getTaskGraph('vgg16', { denseShards: { nope: 2 } }), code(/no such layer/));
  await assert.rejects(getTaskGraph('vgg16', { denseShards: { block1_conv1: 2 } }), code(/class Conv2D cannot be split/));
  await assert.rejects(getTaskGraph('chain', { denseShards: { predictions: 11 } }), code(/only 10 units/));
});

test('models graph — getTaskGraph is cheap: every zoo DAG, both ways, in well under a second', async () => {
  const t0 = performance.now();
  for (const name of zooModelNames()) {
    await getTaskGraph(name);
    await getTaskGraph(name, { fused: true });
  }
  assert.ok(performance.now() - t0 < 1000, `took ${performance.now() - t0} ms`);
});

test('models graph — an unknown reference is E_MODEL_NOT_FOUND listing the zoo', async () => {
  await assert.rejects(getTaskGraph('no-such-model'), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_MODEL_NOT_FOUND' && /vgg16/.test(err.message));
});
