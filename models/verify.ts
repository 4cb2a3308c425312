/**
 * Equivalence: running a model as stages must give what `model.predict` gives. Checks the
 * whole DAG as one stage, one stage per task, and seeded random partitions, on the unfused
 * and fused DAGs (sharded too when asked).
 */
import * as tf from '@tensorflow/tfjs';
import type { TaskGraph } from '../schemas/graph.ts';
import type { GraphOptions } from './graph/build.ts';
import type { DenseShardSpec } from './graph/shards.ts';
import { randomInput } from './inputs.ts';
import type { LoadedModel } from './loaded-model.ts';
import { perTaskPartition, randomPartitions, wholePartition, type Partition } from './partition.ts';
import { taskGraphOf } from './resolve.ts';
import { predictNamed, runPartition } from './run-plan.ts';
import type { TensorMap } from './stage.ts';

export const DEFAULT_TOLERANCE = 1e-4;

export interface VerifyOptions {
  /** Random partitions per DAG (default 3). */
  partitions?: number | undefined;
  seed?: number | undefined;
  tolerance?: number | undefined;
  /** Which DAGs: unfused, fused or both (default both). */
  graphs?: ReadonlyArray<'unfused' | 'fused'> | undefined;
  denseShards?: DenseShardSpec | undefined;
  /** Inputs to use (default: seeded random). The caller keeps ownership. */
  inputs?: TensorMap | undefined;
}

export interface VerifyCheck {
  graph: 'unfused' | 'fused';
  /** whole, per-task, or random#i. */
  partition: string;
  stages: number;
  maxAbsDiff: number;
  ok: boolean;
}

export interface VerifyReport {
  modelId: string;
  modelHash: string;
  tolerance: number;
  maxAbsDiff: number;
  ok: boolean;
  checks: VerifyCheck[];
}

/** Largest |a - b| over every output tensor. */
export function maxAbsDifference(a: Readonly<TensorMap>, b: Readonly<TensorMap>): number {
  let max = 0;
  for (const [name, x] of Object.entries(a)) {
    const y = b[name];
    if (!y || x.size !== y.size) return Infinity;
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0] ?? Infinity);
    max = Math.max(max, Number.isNaN(d) ? Infinity : d);
  }
  return max;
}

export function verifyModel(model: LoadedModel, options: VerifyOptions = {}): VerifyReport {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const seed = options.seed ?? 1;
  const inputs = options.inputs ?? randomInput(model, seed);
  const reference = predictNamed(model, inputs);
  const checks: VerifyCheck[] = [];
  try {
    for (const which of options.graphs ?? (['unfused', 'fused'] as const)) {
      const graphOptions: GraphOptions = { fused: which === 'fused', denseShards: options.denseShards };
      const graph: TaskGraph = taskGraphOf(model, graphOptions);
      const partitions: Array<[string, Partition]> = [
        ['whole', wholePartition(graph)],
        ['per-task', perTaskPartition(graph)],
        ...randomPartitions(graph, seed, options.partitions ?? 3).map((p, i): [string, Partition] => [`random#${i}`, p]),
      ];
      for (const [name, partition] of partitions) {
        const out = runPartition(model, graph, partition, inputs);
        const maxAbsDiff = maxAbsDifference(reference, out);
        tf.dispose(Object.values(out));
        checks.push({ graph: which, partition: name, stages: partition.length, maxAbsDiff, ok: maxAbsDiff <= tolerance });
      }
    }
  } finally {
    tf.dispose(Object.values(reference));
    if (!options.inputs) tf.dispose(Object.values(inputs));
  }
  const maxAbsDiff = Math.max(0, ...checks.map((c) => c.maxAbsDiff));
  return { modelId: model.modelId, modelHash: model.modelHash, tolerance, maxAbsDiff, ok: checks.every((c) => c.ok), checks };
}
