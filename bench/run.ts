/**
 * `npm run bench [-- name ...]`: runs the named benchmarks (all when none is named)
 * one after another in this process, so ratios inside each are measured side by side.
 * Each bench module exports `runBench(options)` and prints its own table to stdout.
 */
import { parseArgs } from 'node:util';
import type { BenchOptions, LoadOptions } from './options.ts';

const BENCHES: Record<string, () => Promise<{ runBench: (o: BenchOptions) => Promise<void> }>> = {
  codec: () => import('./codec.ts'),
  broker: () => import('./broker.ts'),
  models: () => import('./models.ts'),
  planner: () => import('./planner.ts'),
  runtime: () => import('./runtime.ts'),
  demo: () => import('./demo.ts'),
  load: () => import('./load.ts'),
  batch: () => import('./batch.ts'),
};

const USAGE = 'npm run bench -- [name ...] [--quick] [--cars N] [--rate jobs/s per car] [--model name] [--duration s] [--compute real|virtual] [--sweep [--out file.html]]';
function fail(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: ${USAGE}\n`);
  process.exit(2);
}
let parsed;
try {
  parsed = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      cars: { type: 'string' }, rate: { type: 'string' }, model: { type: 'string' }, duration: { type: 'string' }, compute: { type: 'string' },
      sweep: { type: 'boolean', default: false }, out: { type: 'string' },
    },
    allowPositionals: true,
  });
} catch (err) {
  fail((err as Error).message);
}
const { values, positionals } = parsed;
const positive = (name: string, raw: string | undefined, integer = false): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) fail(`--${name} "${raw}": give a ${integer ? 'whole ' : ''}number above 0`);
  return n;
};
const load: LoadOptions = {};
const cars = positive('cars', values.cars, true);
const rate = positive('rate', values.rate);
const durationS = positive('duration', values.duration);
if (cars !== undefined) load.cars = cars;
if (rate !== undefined) load.rate = rate;
if (durationS !== undefined) load.durationS = durationS;
if (values.model !== undefined) load.model = values.model;
if (values.sweep === true) load.sweep = true;
if (values.out !== undefined) {
  if (!values.sweep) fail('--out names the sweep\'s plot: give it with --sweep');
  load.out = values.out;
}
if (values.compute !== undefined) {
  if (values.compute !== 'real' && values.compute !== 'virtual') fail(`--compute "${values.compute}": real or virtual`);
  load.compute = values.compute;
}
const names = positionals.length > 0 ? positionals : Object.keys(BENCHES);
for (const name of names) {
  const load = BENCHES[name];
  if (!load) {
    process.stderr.write(`bench: unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
}
for (const name of names) {
  process.stdout.write(`\n## bench ${name}\n\n`);
  const mod = await BENCHES[name]!();
  await mod.runBench({ quick: values.quick === true, load });
}
