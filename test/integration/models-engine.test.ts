import { after, test } from 'node:test';
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import {
  availableEngines, engineFromEnv, engineInfo, hostInfo, initEngine, maxAbsDifference, randomInput, randomPartitions, resolveModel, runPartition,
  taskGraphOf, type EngineName, type TensorMap,
} from '../../models/index.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import { CACHE_DIR } from '../support/models-fixtures.ts';
import { TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

after(async () => {
  await initEngine({ engine: 'wasm' });
}, { timeout: TEARDOWN_TIMEOUT_MS });

test('models engine — the default engine is the fastest that loads, with reasons for the faster ones', async () => {
  const info = await initEngine();
  assert.equal(await initEngine(), info, 'idempotent: the same engine, not a new one');
  assert.equal(engineInfo(), info);
  assert.equal(tf.getBackend(), info.backend);
  const order: EngineName[] = ['tfjs-node', 'wasm', 'cpu'];
  assert.deepEqual(info.notTaken.map((n) => n.engine), info.forced ? [] : order.slice(0, order.indexOf(info.name)));
  for (const n of info.notTaken) assert.ok(n.reason.length > 0);
  if (info.name === 'wasm') {
    assert.equal(info.simd, true, 'wasm runs with SIMD in Node 20');
    assert.ok(info.notes.some((n) => /threads/.test(n)));
  }
  const host = hostInfo();
  assert.ok(host.cores >= 1 && host.totalMemoryBytes > 0);
});

test('models engine — a forced engine that does not load is E_ENGINE; an unknown name in the env is E_CONFIG', async () => {
  assert.equal(engineFromEnv({ EDGEWEAVE_ENGINE: 'cpu' }), 'cpu');
  assert.equal(engineFromEnv({}), undefined);
  assert.throws(() => engineFromEnv({ EDGEWEAVE_ENGINE: 'gpu' }), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_CONFIG');
  const engines = await availableEngines();
  assert.ok(engines.includes('cpu') && engines.includes('wasm'));
  if (!engines.includes('tfjs-node')) {
    await assert.rejects(initEngine({ engine: 'tfjs-node' }), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_ENGINE' && /tfjs-node/.test(err.message));
  }
});

test('models engine — parity: the same stages on every available engine give the same outputs', async () => {
  const engines = await availableEngines();
  assert.ok(engines.length >= 2, `engines here: ${engines.join(', ')}`);
  for (const name of ['chain', 'fusion', 'inception']) {
    const model = await resolveModel(name, { cacheDir: CACHE_DIR });
    const graph = taskGraphOf(model, { fused: true, denseShards: name === 'fusion' ? { fc1: 2 } : undefined });
    const partition = randomPartitions(graph, 9, 1)[0]!;
    const results = new Map<EngineName, TensorMap>();
    for (const engine of engines) {
      await initEngine({ engine });
      const inputs = randomInput(model, 4);
      const out = runPartition(model, graph, partition, inputs);
      // Keep plain values: tensors of one backend are not compared on another.
      results.set(engine, Object.fromEntries(Object.entries(out).map(([k, t]) => [k, tf.tensor(t.dataSync(), t.shape)])));
      tf.dispose([...Object.values(out), ...Object.values(inputs)]);
    }
    const [first, ...rest] = [...results.entries()];
    for (const [engine, out] of rest) {
      const diff = maxAbsDifference(first![1], out);
      assert.ok(diff <= 1e-4, `${name}: ${first![0]} vs ${engine}: max |diff| ${diff}`);
    }
    for (const out of results.values()) tf.dispose(Object.values(out));
  }
});
