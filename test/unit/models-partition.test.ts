import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { getTaskGraph, layerGraphOf } from '../../models/task-graph.ts';
import { perTaskPartition, randomPartitions, wholePartition } from '../../models/partition.ts';
import { planStage } from '../../models/stage-plan.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import type { TaskGraph } from '../../schemas/graph.ts';

function assertRunnable(graph: TaskGraph, partition: string[][]): void {
  const stageOf = new Map<string, number>();
  partition.forEach((ids, i) => ids.forEach((id) => stageOf.set(id, i)));
  assert.equal(stageOf.size, graph.tasks.length, 'every task in exactly one stage');
  for (const t of graph.tasks) for (const p of t.preds) assert.ok(stageOf.get(p)! <= stageOf.get(t.id)!, `${p} runs before ${t.id}`);
}

test('models partition — random partitions cover the DAG in 2..5 runnable stages, reproducibly', async () => {
  for (const name of ['inception', 'fusion', 'resnet18']) {
    const graph = await getTaskGraph(name);
    const parts = randomPartitions(graph, 42, 30);
    for (const p of parts) {
      assert.ok(p.length >= 2 && p.length <= 5);
      assertRunnable(graph, p);
    }
    assert.deepEqual(randomPartitions(graph, 42, 30), parts, 'same seed, same partitions');
    assert.notDeepEqual(randomPartitions(graph, 43, 30), parts);
  }
  const inception = await getTaskGraph('inception');
  assertRunnable(inception, wholePartition(inception));
  assertRunnable(inception, perTaskPartition(inception));
});

test('models stage plan — a cut through a residual add carries both tensors, in graph order', async () => {
  const graph = await getTaskGraph('resnet18');
  const { layerGraph } = await layerGraphOf('resnet18');
  const plan = planStage(graph, layerGraph, ['conv2_block1_2_conv', 'conv2_block1_2_bn', 'conv2_block1_add', 'conv2_block1_out']);
  assert.deepEqual(plan.inputNames, ['pool1_pool', 'conv2_block1_1_relu']);
  assert.deepEqual(plan.outputNames, ['conv2_block1_out']);
  assert.deepEqual(plan.shapes['pool1_pool'], [56, 56, 64]);
  assert.deepEqual(plan.steps.map((s) => s.output), ['conv2_block1_2_conv', 'conv2_block1_2_bn', 'conv2_block1_add', 'conv2_block1_out']);
});

test('models stage plan — an input task in a stage is fed under its own name; outputs include model outputs', async () => {
  const graph = await getTaskGraph('fusion', { fused: true });
  const { layerGraph } = await layerGraphOf('fusion');
  const plan = planStage(graph, layerGraph, ['sensor', 'sensor1_pool', 'sensor_pool']);
  assert.deepEqual(plan.inputNames, ['sensor']);
  assert.deepEqual(plan.outputNames, ['sensor_pool']);
  const tail = planStage(graph, layerGraph, ['fuse', 'fc1', 'dropout', 'predictions'].filter((id) => graph.tasks.some((t) => t.id === id)));
  assert.deepEqual(tail.inputNames, ['cam_pool', 'sensor_pool']);
  assert.deepEqual(tail.outputNames, ['predictions']);
});

test('models stage plan — shards and the join compile to shard and join steps', async () => {
  const graph = await getTaskGraph('vgg16', { denseShards: { fc1: 2 } });
  const { layerGraph } = await layerGraphOf('vgg16');
  const plan = planStage(graph, layerGraph, ['fc1#1', 'fc1#0', 'fc1']);
  assert.deepEqual(plan.taskIds, ['fc1#0', 'fc1#1', 'fc1']);
  assert.deepEqual(plan.inputNames, ['flatten']);
  assert.deepEqual(plan.steps.map((s) => s.op), ['shard', 'shard', 'join']);
  const one = planStage(graph, layerGraph, ['fc1#1']);
  assert.deepEqual(one.outputNames, ['fc1#1']);
  assert.deepEqual(one.shapes['fc1#1'], [2048]);
});

test('models stage plan — non-convex, empty and unknown stages are E_STAGE errors', async () => {
  const graph = await getTaskGraph('chain');
  const { layerGraph } = await layerGraphOf('chain');
  const stageError = (re: RegExp) => (err: unknown): boolean => isEdgeweaveError(err) && err.code === 'E_STAGE' && re.test(err.message);
  assert.throws(() => planStage(graph, layerGraph, ['conv1', 'conv2']), stageError(/outside the stage/));
  assert.throws(() => planStage(graph, layerGraph, []), stageError(/at least one task/));
  assert.throws(() => planStage(graph, layerGraph, ['nope']), stageError(/no task nope/));
  const tampered: TaskGraph = { ...graph, tasks: graph.tasks.map((t) => (t.id === 'conv2' ? { ...t, layers: ['conv9'] } : t)) };
  assert.throws(() => planStage(tampered, layerGraph, ['conv2']), stageError(/does not have/));
});
