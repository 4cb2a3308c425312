import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import {
  compileStage, getTaskGraph, maxAbsDifference, perTaskPartition, predictNamed, randomInput, randomPartitions, resolveModel, runPartition,
  taskGraphOf,
} from '../../models/index.ts';
import { CACHE_DIR } from '../support/models-fixtures.ts';

// The heavy one, run once: 138M weights, ~0.8 s per forward pass on wasm.
test('models vgg16 — stages equal predict unfused, fused, and with fc1 split into 4 shards', async () => {
  const model = await resolveModel('vgg16', { cacheDir: CACHE_DIR });
  assert.equal(model.model.countParams(), 138_357_544);
  assert.deepEqual(taskGraphOf(model, {}), await getTaskGraph('vgg16'));
  const inputs = randomInput(model, 11);
  const reference = predictNamed(model, inputs);
  const check = (label: string, graph: ReturnType<typeof taskGraphOf>, partition: string[][]): void => {
    const out = runPartition(model, graph, partition, inputs);
    const diff = maxAbsDifference(reference, out);
    tf.dispose(Object.values(out));
    assert.ok(diff <= 1e-4, `${label}: max |diff| ${diff}`);
  };
  const unfused = taskGraphOf(model, {});
  check('unfused, per task', unfused, perTaskPartition(unfused));
  const fusedSharded = taskGraphOf(model, { fused: true, denseShards: { fc1: 4 } });
  check('fused + fc1 shards, per task', fusedSharded, perTaskPartition(fusedSharded));
  const [random] = randomPartitions(fusedSharded, 5, 1);
  check('fused + fc1 shards, random cut', fusedSharded, random!);

  // Each shard holds a quarter of fc1's 392 MiB, and runs alone on the tensor `flatten`.
  const fc1 = unfused.tasks.find((t) => t.id === 'fc1')!;
  const shard = fusedSharded.tasks.find((t) => t.id === 'fc1#2')!;
  assert.equal(shard.paramBytes, fc1.paramBytes / 4);
  const stage = compileStage(model, ['fc1#2'], fusedSharded);
  assert.deepEqual([stage.inputNames, stage.outputNames], [['flatten'], ['fc1#2']]);
  tf.dispose([...Object.values(reference), ...Object.values(inputs)]);
});
