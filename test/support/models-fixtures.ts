/** Shared fixtures of the models tests: the cache folder, hand-written models, tiny images. */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

/** The repository's zoo cache, so generated models are reused across test files and runs. */
export const CACHE_DIR = process.env['EDGEWEAVE_CACHE_DIR'] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.edgeweave', 'models');

export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `edgeweave-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A functional model written by hand with the tfjs layers API: two inputs, a stem that
 * forks into three branches (one of them a residual add), joined by concatenation, then a
 * Dense head. Seeded initialisers make it reproducible.
 */
export function handWrittenBranchedModel(): tf.LayersModel {
  const init = (seed: number): ReturnType<typeof tf.initializers.glorotUniform> => tf.initializers.glorotUniform({ seed });
  const image = tf.input({ shape: [24, 24, 3], name: 'img' });
  const extra = tf.input({ shape: [5], name: 'meta' });
  const stem = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'stem', kernelInitializer: init(1) }).apply(image) as tf.SymbolicTensor;
  const a = tf.layers.conv2d({ filters: 8, kernelSize: 1, name: 'branch_a', kernelInitializer: init(2), biasInitializer: 'ones' }).apply(stem) as tf.SymbolicTensor;
  const b1 = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'branch_b1', kernelInitializer: init(3) }).apply(stem) as tf.SymbolicTensor;
  const b2 = tf.layers.batchNormalization({ name: 'branch_b2' }).apply(b1) as tf.SymbolicTensor;
  const b = tf.layers.add({ name: 'branch_b_add' }).apply([stem, b2]) as tf.SymbolicTensor;
  const c = tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'branch_c' }).apply(stem) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: 'join' }).apply([a, b, c]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(joined) as tf.SymbolicTensor;
  const meta = tf.layers.dense({ units: 6, activation: 'tanh', name: 'meta_dense', kernelInitializer: init(4) }).apply(extra) as tf.SymbolicTensor;
  const merged = tf.layers.concatenate({ name: 'merge' }).apply([pooled, meta]) as tf.SymbolicTensor;
  const hidden = tf.layers.dense({ units: 12, activation: 'relu', name: 'hidden', kernelInitializer: init(5), biasInitializer: 'ones' }).apply(merged) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, activation: 'softmax', name: 'out', kernelInitializer: init(6) }).apply(hidden) as tf.SymbolicTensor;
  return tf.model({ inputs: [image, extra], outputs: out, name: 'handwritten' });
}

/** A model with a layer class edgeweave does not support (an LSTM). */
export function modelWithUnsupportedLayer(): tf.LayersModel {
  const input = tf.input({ shape: [10, 4], name: 'series' });
  const rnn = tf.layers.lstm({ units: 3, name: 'recurrent' }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'head' }).apply(rnn) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'with_lstm' });
}
