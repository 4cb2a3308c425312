/**
 * An Inception-style network (GoogLeNet / Inception-v3 pattern at small scale): modules of
 * four parallel branches joined by concatenation, so the DAG has real fan-out and fan-in.
 * 128x128x3 -> 100 classes.
 */
import { TopologyBuilder } from './builder.ts';
import { once, type ZooModel } from './zoo-model.ts';

/** Conv + BatchNorm + ReLU, named `<name>_conv`, `<name>_bn`, `<name>_relu`. */
function unit(b: TopologyBuilder, x: string, name: string, filters: number, kernel: number, strides = 1, padding: 'same' | 'valid' = 'same'): string {
  const y = b.conv2d(x, `${name}_conv`, { filters, kernel, strides, padding, useBias: false });
  return b.activation(b.batchNorm(y, `${name}_bn`), `${name}_relu`, 'relu');
}

/** Widths: [1x1, 3x3 reduce, 3x3, double-3x3 reduce, double-3x3, pool projection]. */
type Widths = [number, number, number, number, number, number];

function inceptionModule(b: TopologyBuilder, x: string, name: string, w: Widths): string {
  const b1 = unit(b, x, `${name}_b1`, w[0], 1);
  const b2 = unit(b, unit(b, x, `${name}_b2a`, w[1], 1), `${name}_b2b`, w[2], 3);
  const b3 = unit(b, unit(b, unit(b, x, `${name}_b3a`, w[3], 1), `${name}_b3b`, w[4], 3), `${name}_b3c`, w[4], 3);
  const b4 = unit(b, b.avgPool2d(x, `${name}_b4_pool`, 3, 1, 'same'), `${name}_b4`, w[5], 1);
  return b.concat([b1, b2, b3, b4], name);
}

function reduction(b: TopologyBuilder, x: string, name: string, a: number, r: number, c: number): string {
  const b1 = unit(b, x, `${name}_b1`, a, 3, 2, 'valid');
  const b2 = unit(b, unit(b, unit(b, x, `${name}_b2a`, r, 1), `${name}_b2b`, c, 3), `${name}_b2c`, c, 3, 2, 'valid');
  const b3 = b.maxPool2d(x, `${name}_pool`, 3, 2);
  return b.concat([b1, b2, b3], name);
}

export const inception: ZooModel = {
  name: 'inception',
  description: 'Inception-style: modules of parallel branches joined by concatenation, 128x128x3 -> 100',
  topology: once(() => {
    const b = new TopologyBuilder('inception');
    let x = b.input('input_1', [128, 128, 3]);
    x = unit(b, x, 'stem1', 32, 3, 2);
    x = unit(b, x, 'stem2', 64, 3);
    x = b.maxPool2d(x, 'stem_pool', 3, 2, 'same');
    x = inceptionModule(b, x, 'mixed0', [32, 32, 48, 16, 24, 16]);
    x = inceptionModule(b, x, 'mixed1', [48, 32, 64, 16, 32, 24]);
    x = reduction(b, x, 'mixed2', 96, 32, 64);
    x = inceptionModule(b, x, 'mixed3', [64, 48, 96, 24, 48, 48]);
    x = inceptionModule(b, x, 'mixed4', [96, 64, 128, 32, 64, 64]);
    x = b.globalAvgPool2d(x, 'avg_pool');
    x = b.dropout(x, 'dropout', 0.2);
    return b.functional([b.dense(x, 'predictions', 100, 'softmax')]);
  }),
};
