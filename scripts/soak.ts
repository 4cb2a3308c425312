/**
 * Runs test files again and again, to find what fails only now and then:
 *
 *   npm run soak -- test/e2e/faults-executor-death.test.ts --runs 20 [--load 1] [--name <pattern>] [--stop-on-fail]
 *
 * Each run is a fresh `node --test` process. `--load N` keeps N extra busy-looping processes
 * on the CPU meanwhile (the machine under another job). Prints one line per run and a summary;
 * the output of every failed run is kept in a file (its path is printed). Lines a test prints
 * with `t.diagnostic` are collected per run, so figures a test measures (superseded results,
 * re-plans) can be read across runs. Exit code 0 when every run passed, 1 otherwise, 2 on usage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = 'usage: npm run soak -- <test file>... [--runs N] [--load N] [--name <pattern>] [--stop-on-fail]';

function fail(message: string): never {
  process.stderr.write(`soak: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseArgs<{ options: { runs: { type: 'string' }; load: { type: 'string' }; name: { type: 'string' }; 'stop-on-fail': { type: 'boolean' }; help: { type: 'boolean' } }; allowPositionals: true }>>;
try {
  parsed = parseArgs({
    options: { runs: { type: 'string' }, load: { type: 'string' }, name: { type: 'string' }, 'stop-on-fail': { type: 'boolean' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
} catch (err) {
  fail((err as Error).message);
}
if (parsed.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const files = parsed.positionals;
if (files.length === 0) fail('name at least one test file');
const runs = Number(parsed.values.runs ?? '10');
const load = Number(parsed.values.load ?? '0');
if (!Number.isInteger(runs) || runs < 1) fail(`--runs must be a positive integer, not ${JSON.stringify(parsed.values.runs)}`);
if (!Number.isInteger(load) || load < 0) fail(`--load must be a whole number of busy processes, not ${JSON.stringify(parsed.values.load)}`);

const logDir = mkdtempSync(join(tmpdir(), 'edgeweave-soak-'));
const burners: ChildProcess[] = [];
for (let i = 0; i < load; i++) burners.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
const stopBurners = (): void => { for (const b of burners) b.kill('SIGKILL'); };
process.on('exit', stopBurners);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { stopBurners(); process.exit(1); });

function runOnce(): Promise<{ ok: boolean; ms: number; output: string }> {
  // As npm test runs them: a test that hangs fails after 10 min instead of blocking the soak.
  const args = ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=600000', '--test-force-exit', '--test-reporter=spec'];
  if (parsed.values.name) args.push('--test-name-pattern', parsed.values.name);
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, ...files], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
    child.on('exit', (code) => resolve({ ok: code === 0, ms: performance.now() - started, output }));
  });
}

let passed = 0;
const diagnostics = new Map<string, string[]>();
for (let i = 1; i <= runs; i++) {
  const { ok, ms, output } = await runOnce();
  // Diagnostics: `# text` (tap) or `ℹ text` (spec), less the runner's own totals.
  const notes = [...output.matchAll(/^\s*(?:#|ℹ) (?!(?:tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) )(.+)$/gm)].map((m) => m[1]!.trim());
  for (const n of notes) {
    const [key] = n.split(':');
    const list = diagnostics.get(key!) ?? [];
    list.push(n);
    diagnostics.set(key!, list);
  }
  let where = '';
  if (ok) passed++;
  else {
    where = join(logDir, `run-${i}.log`);
    writeFileSync(where, output);
    const failures = [...output.matchAll(/^\s*✖ (.+?) \(\d/gm)].map((m) => m[1]).slice(0, 3);
    where = ` ${failures.join('; ')} — output: ${where}`;
  }
  process.stdout.write(`run ${i}/${runs}: ${ok ? 'pass' : 'FAIL'} in ${(ms / 1000).toFixed(1)} s${where}\n`);
  for (const n of notes) process.stdout.write(`  ${n}\n`);
  if (!ok && parsed.values['stop-on-fail']) break;
}
stopBurners();
process.stdout.write(`soak: ${passed} of ${runs} runs passed (${files.join(', ')}${load > 0 ? `, ${load} busy process(es) beside` : ''})\n`);
process.exit(passed === runs ? 0 : 1);
