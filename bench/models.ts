/**
 * `npm run bench -- models`: single-image `predict` of every zoo model on every engine that
 * loads here, in one run, with the GFLOP/s achieved. `--quick` runs each once and keeps the
 * pure-JS cpu engine to the small models.
 */
import * as tf from '@tensorflow/tfjs';
import {
  availableEngines, formatTable, hostInfo, initEngine, median, predictNamed, randomInput, resolveModel, summarizeGraph, taskGraphOf, zooModelNames,
} from '../models/index.ts';
import type { BenchOptions } from './options.ts';

/** On the cpu engine in a quick run, skip models above this many FLOPs. */
const QUICK_CPU_MAX_FLOPS = 1e9;
/** Aim for about this much timed work per (model, engine) in a full run. */
const TARGET_MS = 5000;

function timePredict(model: Awaited<ReturnType<typeof resolveModel>>, inputs: ReturnType<typeof randomInput>): number {
  const t0 = performance.now();
  tf.dispose(Object.values(predictNamed(model, inputs)));
  return performance.now() - t0;
}

export async function runBench(options: BenchOptions): Promise<void> {
  const engines = await availableEngines();
  const host = hostInfo();
  process.stdout.write(`host: ${host.cores} cores (${host.cpuModel}), engines here: ${engines.join(', ')}\n\n`);
  const rows: string[][] = [];
  for (const engine of engines) {
    await initEngine({ engine });
    for (const name of zooModelNames()) {
      const model = await resolveModel(name);
      const flops = summarizeGraph(taskGraphOf(model)).flops;
      if (options.quick && engine === 'cpu' && flops > QUICK_CPU_MAX_FLOPS) {
        rows.push([name, engine, '-', '-', '-', 'skipped (quick)']);
        continue;
      }
      const inputs = randomInput(model, 1);
      const firstMs = timePredict(model, inputs);
      const runs = options.quick ? 1 : Math.max(3, Math.min(20, Math.floor(TARGET_MS / Math.max(1, timePredict(model, inputs)))));
      const times = Array.from({ length: runs }, () => timePredict(model, inputs));
      tf.dispose(Object.values(inputs));
      const ms = median(times);
      rows.push([name, engine, ms.toFixed(1), (flops / 1e9 / (ms / 1000)).toFixed(2), firstMs.toFixed(0), String(runs)]);
      process.stderr.write(`bench models: ${name} on ${engine}: ${ms.toFixed(1)} ms\n`);
    }
  }
  await initEngine({ engine: engines.includes('wasm') ? 'wasm' : engines[0]! });
  process.stdout.write(formatTable(['model', 'engine', 'predict ms (median)', 'GFLOP/s', 'first call ms', 'runs'], rows, new Set([2, 3, 4, 5])));
  process.stdout.write('\nsingle image (batch 1); GFLOP/s = the DAG\'s FLOPs (a multiply-add counts 2) / median latency\n');
}
