import { after, before, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFile, writeFile, truncate, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  exportModel, getTaskGraph, initEngine, maxAbsDifference, predictNamed, randomInput, resolveModel, saveModelFiles, taskGraphOf, verifyModel,
} from '../../models/index.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import { CACHE_DIR, handWrittenBranchedModel, modelWithUnsupportedLayer, tempDir } from '../support/models-fixtures.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  await initEngine();
  tmp = await tempDir('models-io');
}, { timeout: SETUP_TIMEOUT_MS });
after(async () => {
  await closeInOrder('models-io', [['the temp dir', tmp && (() => tmp.remove())]]);
}, { timeout: TEARDOWN_TIMEOUT_MS });

const code = (c: string, re: RegExp) => (err: unknown): boolean => isEdgeweaveError(err) && err.code === c && re.test(err.message);

test('models io — a zoo model saved then loaded from its folder or its model.json is the same model', async () => {
  for (const name of ['chain', 'fusion']) {
    const zoo = await resolveModel(name, { cacheDir: CACHE_DIR });
    const dir = path.join(tmp.dir, name);
    const file = await exportModel(zoo, dir);
    assert.equal(file, path.join(dir, 'model.json'));
    for (const ref of [dir, file]) {
      const byo = await resolveModel(ref);
      assert.equal(byo.source, 'file');
      assert.equal(byo.modelId, name, 'the model keeps its own name as id');
      assert.equal(byo.modelHash, zoo.modelHash, 'same topology and weights, same sha256');
      assert.deepEqual(byo.labels, zoo.labels);
      assert.deepEqual(await getTaskGraph(ref, { fused: true }), taskGraphOf(zoo, { fused: true }));
      const inputs = randomInput(byo, 2);
      const a = predictNamed(zoo, inputs);
      const b = predictNamed(byo, inputs);
      assert.equal(maxAbsDifference(a, b), 0);
      tf.dispose([...Object.values(a), ...Object.values(b), ...Object.values(inputs)]);
    }
  }
});

test('models io — zoo generation is deterministic: a fresh build has the cached build\'s hash', async () => {
  const cached = await resolveModel('inception', { cacheDir: CACHE_DIR });
  const fresh = await resolveModel('inception', { cache: false });
  assert.notEqual(fresh, cached);
  assert.equal(fresh.modelHash, cached.modelHash);
  assert.match(cached.modelHash, /^[0-9a-f]{64}$/);
});

test('models io — a hand-written functional model with branches and two inputs loads, splits and matches predict', async () => {
  const dir = path.join(tmp.dir, 'handwritten');
  await saveModelFiles(handWrittenBranchedModel(), dir);
  const model = await resolveModel(dir);
  assert.equal(model.modelId, 'handwritten');
  assert.deepEqual(model.inputs.map((i) => i.name), ['img', 'meta']);
  const graph = taskGraphOf(model, {});
  assert.deepEqual(graph.tasks.find((t) => t.id === 'stem')!.succs.sort(), ['branch_a', 'branch_b1', 'branch_b_add', 'branch_c']);
  assert.deepEqual(graph.tasks.find((t) => t.id === 'join')!.preds, ['branch_a', 'branch_b_add', 'branch_c']);
  const fused = taskGraphOf(model, { fused: true });
  assert.ok(fused.tasks.some((t) => t.kind === 'ConcatBlock' && t.layers.includes('branch_b_add')), 'the three branches fuse into one block');
  const report = verifyModel(model, { partitions: 10, seed: 3, denseShards: { hidden: 3 } });
  assert.ok(report.ok, `max |diff| ${report.maxAbsDiff}`);
});

test('models io — an unsupported layer is an E_UNSUPPORTED_LAYER naming the layer and its class', async () => {
  const dir = path.join(tmp.dir, 'lstm');
  await saveModelFiles(modelWithUnsupportedLayer(), dir);
  const unsupported = code('E_UNSUPPORTED_LAYER', /layer "recurrent" has class LSTM/);
  await assert.rejects(resolveModel(dir), unsupported);
  await assert.rejects(getTaskGraph(dir), unsupported);
});

test('models io — missing, malformed and truncated files give E_MODEL_NOT_FOUND and E_MODEL_LOAD', async () => {
  await assert.rejects(resolveModel(path.join(tmp.dir, 'nothing-here')), code('E_MODEL_NOT_FOUND', /neither a zoo model/));
  const bad = path.join(tmp.dir, 'bad');
  await mkdir(bad, { recursive: true });
  await writeFile(path.join(bad, 'model.json'), '{ not json');
  await assert.rejects(resolveModel(bad), code('E_MODEL_LOAD', /not valid JSON/));
  await writeFile(path.join(bad, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
  await assert.rejects(resolveModel(bad), code('E_MODEL_LOAD', /graph-model/));
  const cut = path.join(tmp.dir, 'cut');
  await exportModel(await resolveModel('chain', { cacheDir: CACHE_DIR }), cut);
  await truncate(path.join(cut, 'weights.bin'), 1000);
  await assert.rejects(resolveModel(cut), code('E_MODEL_LOAD', /weight shards hold 1000 bytes/));
});

test('models io — labels come from metadata, else labels.json or labels.txt beside model.json', async () => {
  const dir = path.join(tmp.dir, 'labelled');
  await saveModelFiles(handWrittenBranchedModel(), dir);
  await writeFile(path.join(dir, 'labels.txt'), 'north\neast\nsouth\nwest\n');
  assert.deepEqual((await resolveModel(dir)).labels, ['north', 'east', 'south', 'west']);
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as { userDefinedMetadata?: unknown };
  assert.equal(json.userDefinedMetadata, undefined);
});
