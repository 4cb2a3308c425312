/**
 * Deterministic weights for zoo models: each weight is filled from a PRNG seeded by the
 * model name and the weight's name, so every device generates the same bytes (and the same
 * sha256) whatever its engine or the order it builds layers in. Scales keep activations in
 * range: He-uniform kernels, small biases, BatchNorm statistics near identity.
 */
import * as tf from '@tensorflow/tfjs';
import { fillUniform, seedFrom } from '../prng.ts';
import type { ZooModel } from './zoo-model.ts';

/** Bump when the generator changes: it is part of the zoo cache key. */
export const WEIGHTS_VERSION = 2;

function fanIn(shape: readonly number[], role: string): number {
  const dims = role === 'depthwise_kernel' ? shape.slice(0, -2) : shape.slice(0, -1);
  return Math.max(1, dims.reduce((a, b) => a * b, 1));
}

/** [lo, hi) of the uniform distribution for one weight. */
function range(role: string, shape: readonly number[]): [number, number] {
  switch (role) {
    case 'kernel':
    case 'depthwise_kernel':
    case 'pointwise_kernel': {
      const a = Math.sqrt(6 / fanIn(shape, role));
      return [-a, a];
    }
    case 'gamma':
      return [0.9, 1.1];
    case 'moving_variance':
      return [1, 1.25];
    case 'alpha':
      return [0.2, 0.3];
    default:
      // bias, beta, moving_mean and anything else
      return [-0.05, 0.05];
  }
}

/** Overwrites every weight of `model` with the zoo model's seeded values. */
export function fillSeededWeights(model: tf.LayersModel, zoo: ZooModel): void {
  for (const layer of model.layers) {
    const vars = layer.weights;
    if (vars.length === 0) continue;
    const values = vars.map((v) => {
      const role = v.originalName.slice(v.originalName.lastIndexOf('/') + 1);
      const scale = zoo.weightScale?.(layer.name, role) ?? 1;
      const [lo, hi] = range(role, v.shape as number[]).map((x) => x * scale) as [number, number];
      const data = fillUniform(new Float32Array(v.shape.reduce((a: number, b) => a * (b ?? 1), 1)), seedFrom(`${zoo.name}/${v.originalName}`, WEIGHTS_VERSION), lo, hi);
      return tf.tensor(data, v.shape as number[], 'float32');
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}
