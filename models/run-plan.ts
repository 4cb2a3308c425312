/**
 * Running a whole plan of stages locally, in order, passing tensors by name: what the
 * runtime does across devices, in one process. Used by `verify`, `profile` and the tests.
 */
import type * as tf from '@tensorflow/tfjs';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import type { LoadedModel } from './loaded-model.ts';
import { compileStage, type Stage, type TensorMap } from './stage.ts';

/**
 * Runs `stages` in order on `inputs` and returns the tensors named `wanted` (default: every
 * output of the last stage). Intermediate tensors are disposed as soon as no later stage
 * needs them; the caller keeps `inputs` and owns the result.
 */
export function runStages(stages: readonly Stage[], inputs: Readonly<TensorMap>, wanted?: readonly string[]): TensorMap {
  const want = new Set(wanted ?? stages.at(-1)?.outputNames ?? []);
  const lastUse = new Map<string, number>();
  stages.forEach((s, i) => s.inputNames.forEach((n) => lastUse.set(n, i)));
  const pool = new Map<string, tf.Tensor>(Object.entries(inputs));
  const owned = new Set<string>();
  try {
    stages.forEach((stage, i) => {
      const feed: TensorMap = {};
      for (const name of stage.inputNames) {
        const t = pool.get(name);
        if (!t) throw new EdgeweaveError('E_STAGE', `stage ${i} (${stage.taskIds[0] ?? ''}...) needs ${name}, which no earlier stage produced`);
        feed[name] = t;
      }
      const out = stage.run(feed);
      for (const [name, t] of Object.entries(out)) {
        if (owned.has(name)) pool.get(name)?.dispose();
        pool.set(name, t);
        owned.add(name);
      }
      for (const name of stage.inputNames) {
        if (lastUse.get(name) === i && owned.has(name) && !want.has(name)) {
          pool.get(name)!.dispose();
          pool.delete(name);
          owned.delete(name);
        }
      }
    });
    const result: TensorMap = {};
    for (const name of want) {
      const t = pool.get(name);
      if (!t) throw new EdgeweaveError('E_STAGE', `no stage produced ${name}`);
      result[name] = owned.has(name) ? t : t.clone();
      owned.delete(name);
    }
    return result;
  } finally {
    for (const name of owned) pool.get(name)?.dispose();
  }
}

/** Compiles (cached) and runs a partition of `graph` into stages, in the given order; returns the model outputs. */
export function runPartition(model: LoadedModel, graph: TaskGraph, partition: ReadonlyArray<readonly string[]>, inputs: Readonly<TensorMap>): TensorMap {
  const stages = partition.map((ids) => compileStage(model, ids, graph));
  return runStages(stages, inputs, graph.outputs);
}

/** `model.predict` on named inputs, with outputs named like the graph's output tasks. */
export function predictNamed(model: LoadedModel, inputs: Readonly<TensorMap>): TensorMap {
  const xs = model.inputs.map((spec) => {
    const t = inputs[spec.name];
    if (!t) throw new EdgeweaveError('E_INPUT', `missing model input ${spec.name}`);
    return t;
  });
  const y = model.model.predict(xs.length === 1 ? xs[0]! : xs);
  const ys = Array.isArray(y) ? y : [y];
  const out: TensorMap = {};
  model.outputs.forEach((spec, i) => {
    out[spec.name] = ys[i]!;
  });
  return out;
}
