/**
 * The demo scenario as a benchmark: (c) speed-up of auto over local per model, and auto's
 * latency against the best fixed strategy at each link setting; (d) prediction error,
 * median and p90 of |measured / predicted - 1| over all demo jobs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { runDemo } from '../cli/demo/run-demo.ts';
import { demoFigures, demoTable } from '../cli/demo/report.ts';
import type { BenchOptions } from './options.ts';

export async function runBench(options: BenchOptions): Promise<void> {
  const log = pino({ level: process.env['EDGEWEAVE_LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
  const dataDir = process.env['EDGEWEAVE_DATA_DIR'] ?? mkdtempSync(join(tmpdir(), 'edgeweave-bench-demo-'));
  const result = await runDemo({ quick: options.quick, dataDir, log, repeat: options.quick ? 1 : 2 });
  process.stdout.write(demoTable(result.rows));
  const f = demoFigures(result.rows);
  process.stdout.write(`\n(c) auto over local (geometric mean over link settings):\n`);
  for (const [m, s] of Object.entries(f.autoSpeedup)) process.stdout.write(`  ${m.padEnd(12)} ${s.toFixed(2)}x\n`);
  process.stdout.write('    auto / best fixed strategy, per model and link:\n');
  for (const x of f.autoVsBestFixed) process.stdout.write(`  ${x.model.padEnd(12)} ${x.link.padEnd(5)} best fixed ${x.best.padEnd(12)} auto/best ${x.ratio.toFixed(3)}\n`);
  process.stdout.write(`(d) prediction error |measured/predicted - 1| over ${result.rows.length} jobs: median ${(f.predictionErrorMedian * 100).toFixed(1)}%, p90 ${(f.predictionErrorP90 * 100).toFixed(1)}%\n`);
  process.stdout.write(`(demo ran ${result.durationS.toFixed(0)} s; data in ${dataDir})\n`);
}
