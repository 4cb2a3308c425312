import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import {
  disposeModel, getTaskGraph, maxAbsDifference, predictNamed, randomInput, randomPartitions, resolveModel, runPartition, taskGraphOf, verifyModel,
} from '../../models/index.ts';
import { CACHE_DIR } from '../support/models-fixtures.ts';

const TOLERANCE = 1e-4;

// VGG16 has its own file (models-vgg16.test.ts): it is the heavy one.
for (const name of ['chain', 'resnet18', 'resnet50', 'mobilenetv2', 'inception', 'fusion']) {
  test(`models equivalence — ${name} as stages equals predict, fused and unfused, whole, per task and random cuts`, async () => {
    const model = await resolveModel(name, { cacheDir: CACHE_DIR });
    assert.deepEqual(taskGraphOf(model, {}), await getTaskGraph(name), 'the DAG from the loaded model is the DAG from the topology');
    assert.deepEqual(taskGraphOf(model, { fused: true }), await getTaskGraph(name, { fused: true }));
    const before = tf.memory().numTensors;
    const report = verifyModel(model, { partitions: 2, seed: 7, tolerance: TOLERANCE });
    assert.equal(tf.memory().numTensors, before, 'verify leaks no tensor');
    assert.equal(report.checks.length, 8);
    for (const c of report.checks) assert.ok(c.ok, `${name} ${c.graph} ${c.partition}: max |diff| ${c.maxAbsDiff}`);
    assert.ok(report.maxAbsDiff <= TOLERANCE);
    if (name === 'resnet50' || name === 'mobilenetv2') disposeModel(model);
  });
}

test('models equivalence — property: seeded random cuts into 2-5 stages always equal predict (small models)', async () => {
  const seed = 20240607;
  for (const name of ['chain', 'inception', 'fusion']) {
    const model = await resolveModel(name, { cacheDir: CACHE_DIR });
    for (const fused of [false, true]) {
      const graph = taskGraphOf(model, { fused });
      const inputs = randomInput(model, seed);
      const reference = predictNamed(model, inputs);
      for (const [i, partition] of randomPartitions(graph, seed, 25).entries()) {
        const out = runPartition(model, graph, partition, inputs);
        const diff = maxAbsDifference(reference, out);
        tf.dispose(Object.values(out));
        assert.ok(diff <= TOLERANCE, `${name} fused=${fused} partition ${i} (seed ${seed}, ${partition.length} stages): max |diff| ${diff}`);
      }
      tf.dispose([...Object.values(reference), ...Object.values(inputs)]);
    }
  }
});

test('models equivalence — the zoo outputs are not degenerate (the check compares real signal)', async () => {
  for (const name of ['chain', 'resnet18', 'inception', 'fusion']) {
    const model = await resolveModel(name, { cacheDir: CACHE_DIR });
    const inputs = randomInput(model, 3);
    const out = Object.values(predictNamed(model, inputs))[0]!;
    const top = tf.max(out).dataSync()[0]!;
    const classes = out.shape.at(-1)!;
    assert.ok(top > 2 / classes, `${name}: top probability ${top} is well above uniform`);
    tf.dispose([out, ...Object.values(inputs)]);
  }
});
