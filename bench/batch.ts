/**
 * `npm run bench -- batch`: what batching the same stage of different jobs gains on this host.
 * For a middle stage of each model (the fused DAG cut in thirds, as on an edge device between
 * a car and the cloud), N queued stage inputs of different jobs are run one by one
 * (`runStageOnData` each) and in batches of 2, 4 and 8 (`runStageBatch`: stacked, one predict,
 * split back), side by side in the same rounds; ms per item (median over rounds) and the
 * speed-up over one by one. The executor batches a stage only where its own measurements show
 * such a gain (node-runtime/stage-batch.ts). `--quick`: fewer rounds.
 */
import * as tf from '@tensorflow/tfjs';
import { compileStage, formatTable, initEngine, median, resolveModel, taskGraphOf, type Stage } from '../models/index.ts';
import { runStageBatch, runStageOnData } from '../node-runtime/model-host.ts';
import { seededUniform } from '../node-runtime/data-sources.ts';
import { maxDeviation, type TensorData } from '../schemas/tensor-codec.ts';
import type { BenchOptions } from './options.ts';

const MODELS = ['mobilenetv2', 'resnet18'];
const ITEMS = 8;
const SIZES = [2, 4, 8];

/** The middle third of the model's fused DAG, compiled. */
async function middleStage(name: string): Promise<Stage> {
  const model = await resolveModel(name);
  const graph = taskGraphOf(model, { fused: true });
  const n = graph.tasks.length;
  const taskIds = graph.tasks.slice(Math.floor(n / 3), Math.floor((2 * n) / 3)).map((t) => t.id);
  return compileStage(model, taskIds, graph);
}

/** One job's inputs of the stage: batch 1, random values seeded by the job. */
function jobInputs(stage: Stage, job: number): Map<string, TensorData> {
  return new Map(stage.inputNames.map((name, k) => {
    const shape = [1, ...(stage.shapes[name] ?? [])];
    return [name, { dtype: 'float32' as const, shape, values: seededUniform(shape.reduce((a, b) => a * b, 1), 1000 * job + k + 1) }];
  }));
}

/** ms per item running `items` in batches of `size` (1: one by one); the outputs, per item. */
function timeRun(stage: Stage, items: ReadonlyArray<Map<string, TensorData>>, size: number): { msPerItem: number; outputs: Array<Map<string, TensorData>> } {
  const outputs: Array<Map<string, TensorData>> = [];
  const t0 = performance.now();
  for (let i = 0; i < items.length; i += size) {
    const group = items.slice(i, i + size);
    if (size === 1) outputs.push(runStageOnData(stage, group[0]!));
    else outputs.push(...runStageBatch(stage, group));
  }
  return { msPerItem: (performance.now() - t0) / items.length, outputs };
}

export async function runBench(options: BenchOptions): Promise<void> {
  const engine = await initEngine();
  const rounds = options.quick ? 2 : 6;
  process.stdout.write(`engine ${engine.name}; a middle stage, ${ITEMS} queued inputs of different jobs, ${rounds} rounds (median ms per item)\n\n`);
  const rows: string[][] = [];
  for (const name of MODELS) {
    const stage = await middleStage(name);
    const items = Array.from({ length: ITEMS }, (_, j) => jobInputs(stage, j));
    const sizes = [1, ...SIZES];
    // Warm every batch size once (kernel set-up, memory growth), then time them side by side.
    for (const size of sizes) timeRun(stage, items, size);
    const tensorsBefore = tf.memory().numTensors;
    const times = new Map<number, number[]>(sizes.map((s) => [s, []]));
    let deviation = 0;
    for (let r = 0; r < rounds; r++) {
      // Alternate the order, so no size always runs on a warmer (or hotter) machine.
      const order = r % 2 === 0 ? sizes : [...sizes].reverse();
      const alone = new Map<number, Array<Map<string, TensorData>>>();
      for (const size of order) {
        const { msPerItem, outputs } = timeRun(stage, items, size);
        times.get(size)!.push(msPerItem);
        alone.set(size, outputs);
      }
      const single = alone.get(1)!;
      for (const size of SIZES) {
        alone.get(size)!.forEach((out, j) => {
          for (const [tensor, t] of out) deviation = Math.max(deviation, maxDeviation(single[j]!.get(tensor)!.values, t.values).maxAbs);
        });
      }
    }
    if (tf.memory().numTensors !== tensorsBefore) throw new Error(`bench batch: ${name} leaked ${tf.memory().numTensors - tensorsBefore} tensors`);
    const oneByOne = median(times.get(1)!);
    rows.push([name, String(stage.taskIds.length), '1 (one by one)', oneByOne.toFixed(1), '1.00', '']);
    for (const size of SIZES) {
      const ms = median(times.get(size)!);
      rows.push([name, String(stage.taskIds.length), String(size), ms.toFixed(1), (oneByOne / ms).toFixed(2), deviation.toExponential(1)]);
    }
    process.stderr.write(`bench batch: ${name} done\n`);
  }
  process.stdout.write(formatTable(['model', 'tasks', 'batch', 'ms per item', 'speed-up', 'max |diff|'], rows, new Set([1, 3, 4, 5])));
  process.stdout.write('\nspeed-up = one by one / batched, ms per item; max |diff| = largest difference of a batched output from the same job run alone\n');
}
