import { after, before, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeImage, imageInputOf, initEngine, loadImageTensor, randomInput, resolveModel, topK } from '../../models/index.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import { CACHE_DIR, tempDir } from '../support/models-fixtures.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  await initEngine();
  tmp = await tempDir('models-inputs');
}, { timeout: SETUP_TIMEOUT_MS });
after(async () => {
  await closeInOrder('models-inputs', [['the temp dir', tmp && (() => tmp.remove())]]);
}, { timeout: TEARDOWN_TIMEOUT_MS });

/** 64x48 RGBA: left half pure red, right half pure blue. */
function splitImage(): { width: number; height: number; data: Buffer } {
  const width = 64;
  const height = 48;
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = x < width / 2 ? 255 : 0;
      data[i + 2] = x < width / 2 ? 0 : 255;
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

async function checkSplitImage(file: string, tolerance: number): Promise<void> {
  const model = await resolveModel('chain', { cacheDir: CACHE_DIR });
  const inputs = await loadImageTensor(file, model);
  const x = inputs['conv1_input']!;
  assert.deepEqual(x.shape, [1, 32, 32, 3], 'resized to the model input');
  const [left, right, min, max] = tf.tidy(() => [
    x.slice([0, 16, 4, 0], [1, 1, 1, 3]).dataSync(),
    x.slice([0, 16, 28, 0], [1, 1, 1, 3]).dataSync(),
    x.min().dataSync()[0]!,
    x.max().dataSync()[0]!,
  ] as const);
  for (const [got, want] of [[left, [1, 0, 0]], [right, [0, 0, 1]]] as const) {
    want.forEach((w, c) => assert.ok(Math.abs(got[c]! - w) <= tolerance, `channel ${c}: ${got[c]} vs ${w}`));
  }
  assert.ok(min >= 0 && max <= 1, 'scaled to [0, 1]');
  tf.dispose(Object.values(inputs));
}

test('models inputs — a PNG is decoded and resized to the model input', async () => {
  const png = new PNG({ width: 64, height: 48 });
  const img = splitImage();
  img.data.copy(png.data);
  const file = path.join(tmp.dir, 'split.png');
  await writeFile(file, PNG.sync.write(png));
  await checkSplitImage(file, 1e-6);
});

test('models inputs — a JPEG is decoded and resized to the model input', async () => {
  const file = path.join(tmp.dir, 'split.jpg');
  await writeFile(file, jpeg.encode(splitImage(), 95).data);
  await checkSplitImage(file, 0.08);
});

test('models inputs — the image feeds the camera input of a two-input model; other inputs are not images', async () => {
  const fusion = await resolveModel('fusion', { cacheDir: CACHE_DIR });
  assert.equal(imageInputOf(fusion).name, 'camera');
  assert.throws(() => imageInputOf(fusion, 'sensor'), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_INPUT' && /not an image/.test(err.message));
  assert.throws(() => decodeImage(new Uint8Array([1, 2, 3, 4])), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_INPUT');
  await assert.rejects(loadImageTensor(path.join(tmp.dir, 'missing.png'), fusion), (err: unknown) => isEdgeweaveError(err) && err.code === 'E_INPUT');
});

test('models inputs — seeded random inputs are reproducible and shaped per input', async () => {
  const fusion = await resolveModel('fusion', { cacheDir: CACHE_DIR });
  const a = randomInput(fusion, 5);
  const b = randomInput(fusion, 5);
  const c = randomInput(fusion, 6);
  assert.deepEqual(a['camera']!.shape, [1, 96, 96, 3]);
  assert.deepEqual(a['sensor']!.shape, [1, 64, 6]);
  assert.deepEqual(a['sensor']!.dataSync(), b['sensor']!.dataSync());
  assert.notDeepEqual(a['sensor']!.dataSync(), c['sensor']!.dataSync());
  tf.dispose([...Object.values(a), ...Object.values(b), ...Object.values(c)]);
});

test('models inputs — topK names classes with the model\'s labels', () => {
  const out = tf.tensor2d([[0.1, 0.6, 0.05, 0.25]]);
  assert.deepEqual(topK(out, ['a', 'b', 'c', 'd'], 2).map((s) => [s.index, s.label]), [[1, 'b'], [3, 'd']]);
  assert.equal(topK(out, undefined, 1)[0]!.label, 'class 1');
  out.dispose();
});
