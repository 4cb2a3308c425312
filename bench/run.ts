/**
 * `npm run bench [-- name ...]`: runs the named benchmarks (all when none is named)
 * one after another in this process, so ratios inside each are measured side by side.
 * Each bench module exports `runBench(options)` and prints its own table to stdout.
 */
import { parseArgs } from 'node:util';
import type { BenchOptions } from './options.ts';

const BENCHES: Record<string, () => Promise<{ runBench: (o: BenchOptions) => Promise<void> }>> = {
  codec: () => import('./codec.ts'),
  broker: () => import('./broker.ts'),
  models: () => import('./models.ts'),
  planner: () => import('./planner.ts'),
  runtime: () => import('./runtime.ts'),
  demo: () => import('./demo.ts'),
  load: () => import('./load.ts'),
};

const { values, positionals } = parseArgs({ options: { quick: { type: 'boolean', default: false } }, allowPositionals: true });
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
  await mod.runBench({ quick: values.quick === true });
}
