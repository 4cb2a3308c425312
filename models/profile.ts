/**
 * Profiling: each task's latency on this machine (median of N runs after a warm-up), its
 * output bytes, one whole `predict`, and the sum of the tasks against it: the cost of
 * splitting. The result has the shape of schemas' ModelProfile.
 */
import * as tf from '@tensorflow/tfjs';
import type { GraphOptions } from './graph/build.ts';
import { randomInput } from './inputs.ts';
import type { LoadedModel } from './loaded-model.ts';
import { taskGraphOf } from './resolve.ts';
import { predictNamed, runStages } from './run-plan.ts';
import { compileStage, type Stage, type TensorMap } from './stage.ts';

export interface TaskLatency {
  taskId: string;
  latencyMs: number;
  outputBytes: number;
}

export interface ModelProfileResult {
  modelId: string;
  modelHash: string;
  fused: boolean;
  runs: number;
  tasks: TaskLatency[];
  /** Median of one whole `model.predict` (the lower of two medians, taken before and after the tasks). */
  wholePredictMs: number;
  /** Sum of the task medians. */
  sumTasksMs: number;
  /** Median of running every task as its own stage, one after another (runStages). */
  splitRunMs: number;
  /** sumTasksMs / wholePredictMs: the cost of splitting at every task. */
  splitRatio: number;
}

export interface ProfileOptions extends GraphOptions {
  /** Timed runs per task (default 10); the median is reported. */
  runs?: number | undefined;
  /** Untimed runs first (default 1). */
  warmup?: number | undefined;
  seed?: number | undefined;
  /** Called after each task, for progress. */
  onTask?: ((task: TaskLatency, index: number, total: number) => void) | undefined;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median wall time of `fn` (whose tensors are disposed) over `runs` after `warmup` runs. */
function timeIt(fn: () => TensorMap, runs: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) tf.dispose(Object.values(fn()));
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    // tfjs-node, wasm and cpu all run kernels synchronously: the call returns when they are done.
    const out = fn();
    times.push(performance.now() - t0);
    tf.dispose(Object.values(out));
  }
  return median(times);
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function profileModel(model: LoadedModel, options: ProfileOptions = {}): Promise<ModelProfileResult> {
  const runs = Math.max(1, options.runs ?? 10);
  const warmup = Math.max(0, options.warmup ?? 1);
  const graph = taskGraphOf(model, { fused: options.fused, denseShards: options.denseShards, maxBlockLayers: options.maxBlockLayers });
  const inputs = randomInput(model, options.seed ?? 1);
  const pool = new Map<string, tf.Tensor>(Object.entries(inputs));
  try {
    const predictBefore = timeIt(() => predictNamed(model, inputs), runs, Math.max(1, warmup));
    const inputTasks = new Set(graph.inputs);
    const stages: Stage[] = [];
    const tasks: TaskLatency[] = [];
    for (const [index, task] of graph.tasks.entries()) {
      let latencyMs = 0;
      if (!inputTasks.has(task.id)) {
        const stage = compileStage(model, [task.id], graph);
        stages.push(stage);
        const feed: TensorMap = {};
        for (const name of stage.inputNames) feed[name] = pool.get(name)!;
        latencyMs = timeIt(() => stage.run(feed), runs, warmup);
        // Keep this task's output for its successors.
        for (const [name, t] of Object.entries(stage.run(feed))) pool.set(name, t);
      }
      const entry = { taskId: task.id, latencyMs, outputBytes: task.outputBytes };
      tasks.push(entry);
      options.onTask?.(entry, index, graph.tasks.length);
      await yieldToEventLoop();
    }
    const splitRunMs = timeIt(() => runStages(stages, inputs, graph.outputs), runs, warmup);
    // Measured before and after the tasks; the lower median, so a burst of other load on the
    // machine during one of them does not skew the split ratio.
    const wholePredictMs = Math.min(predictBefore, timeIt(() => predictNamed(model, inputs), runs, 0));
    const sumTasksMs = tasks.reduce((s, t) => s + t.latencyMs, 0);
    return {
      modelId: model.modelId,
      modelHash: model.modelHash,
      fused: options.fused === true,
      runs,
      tasks,
      wholePredictMs,
      sumTasksMs,
      splitRunMs,
      splitRatio: wholePredictMs > 0 ? sumTasksMs / wholePredictMs : 0,
    };
  } finally {
    tf.dispose([...pool.values()]);
  }
}
