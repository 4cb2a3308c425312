import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../cli/experiment/scenario.ts';
import { runExperiment } from '../../cli/experiment/run-experiment.ts';
import { SWEEP_COLUMNS, type SweepRow } from '../../cli/experiment/results.ts';
import { TEST_DATA_DIR, testLog } from '../support/cluster.ts';
import { kerasStyleBranchedModel, writeKerasLayout } from '../support/keras-layout.ts';

test('experiment — a tiny sweep (1 model, 2 algorithms, 2 link settings, 1 job each) writes CSV, JSON and an HTML report with plots', async () => {
  process.env['EDGEWEAVE_CACHE_DIR'] ??= join(TEST_DATA_DIR, 'models');
  const dir = mkdtempSync(join(tmpdir(), 'edgeweave-sweep-'));
  const scenario = parseScenario({
    kind: 'sweep', name: 'tiny-sweep', seed: 7, models: ['chain'], algorithms: ['local', 'auto'],
    links: [{ name: 'fast', upMbps: 20, downMbps: 40, rttMs: 5, radio: 'wifi' }, { name: 'slow', upMbps: 0.5, downMbps: 1, rttMs: 80, radio: '3g' }],
    jobsPerCell: 1, warmupJobs: 0, timeoutMs: 30_000,
  });
  const progress: Array<[number, number, string]> = [];
  const { result, files } = await runExperiment({
    scenario, outDir: join(dir, 'out'), dataDir: join(dir, 'data'), log: testLog(), progress: (d, t, l) => progress.push([d, t, l]),
  });

  assert.deepEqual(files, { csv: join(dir, 'out', 'results.csv'), json: join(dir, 'out', 'results.json'), html: join(dir, 'out', 'report.html') });
  const rows = result.rows as SweepRow[];
  assert.equal(rows.length, 4);
  assert.deepEqual(rows.map((r) => `${r.link}/${r.algorithm}`), ['fast/local', 'fast/auto', 'slow/local', 'slow/auto']);
  for (const r of rows) {
    assert.equal(r.status, 'ok', `${r.link}/${r.algorithm}: ${r.error}`);
    assert.ok(r.latencyMs > 0 && r.predictedMs > 0 && r.carEnergyJ > 0, JSON.stringify(r));
    assert.ok(r.speedup > 0);
    assert.match(r.placement, /^car1:\d+/);
  }
  assert.deepEqual(rows.filter((r) => r.algorithm === 'local').map((r) => r.offloadedTasks), [0, 0]);

  const csv = readFileSync(files.csv, 'utf8').trimEnd().split('\n').map((l) => l.split(','));
  assert.deepEqual(csv[0], SWEEP_COLUMNS.map(([h]) => h));
  assert.equal(csv.length, 5);
  assert.ok(csv.slice(1).every((c) => c.length === SWEEP_COLUMNS.length && c[0] === 'chain' && c[9] === 'ok'));
  const json = JSON.parse(readFileSync(files.json, 'utf8')) as { kind: string; rows: unknown[]; jobs: Array<{ stages: unknown[] }>; scenario: { seed: number } };
  assert.equal(json.kind, 'sweep');
  assert.equal(json.rows.length, 4);
  assert.equal(json.jobs.length, 4);
  assert.ok(json.jobs.every((j) => j.stages.length > 0), 'every job keeps its stage timeline');
  assert.equal(json.scenario.seed, 7);
  const html = readFileSync(files.html, 'utf8');
  assert.equal((html.match(/<svg/g) ?? []).length, 4, 'latency, energy and speed-up against bandwidth, predicted vs measured');
  assert.ok(existsSync(join(dir, 'out', 'logs', 'car1.log')) && existsSync(join(dir, 'out', 'logs', 'planner.log')));
  assert.deepEqual(progress.at(-1), [4, 4, 'done']);
  assert.deepEqual(progress.map((p) => p[0]), [0, 1, 2, 3, 4], 'a progress step per job');
});

test('experiment — a scenario names its own model by path (relative to the file): jobs run it by its hash', async () => {
  process.env['EDGEWEAVE_CACHE_DIR'] ??= join(TEST_DATA_DIR, 'models');
  const dir = mkdtempSync(join(tmpdir(), 'edgeweave-own-sweep-'));
  const model = kerasStyleBranchedModel('model_1', 5);
  await writeKerasLayout(model, join(dir, 'models', 'mine'), { shardBytes: 64 * 1024 });
  model.dispose();
  const file = join(dir, 'scenario.json');
  const scenario = parseScenario({
    kind: 'sweep', name: 'own-model', models: ['models/mine'], algorithms: ['auto'],
    links: [{ name: 'fast', upMbps: 20, downMbps: 40, rttMs: 5 }], jobsPerCell: 1, warmupJobs: 0, timeoutMs: 30_000,
  }, file);
  assert.deepEqual(scenario.kind === 'sweep' ? scenario.models : [], [join(dir, 'models', 'mine')], 'the path is taken relative to the scenario');
  const { result } = await runExperiment({ scenario, outDir: join(dir, 'out'), dataDir: join(dir, 'data'), log: testLog() });
  const rows = result.rows as SweepRow[];
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.status, 'ok', rows[0]!.error);
  assert.throws(() => parseScenario({ kind: 'sweep', models: ['models/none'], links: [{ name: 'x', upMbps: 1, downMbps: 1, rttMs: 1 }] }, file), /models\[0\]: must be a zoo model: .*got "models\/none"/);
});
