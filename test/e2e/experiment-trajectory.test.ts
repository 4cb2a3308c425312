import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../cli/experiment/scenario.ts';
import { runExperiment } from '../../cli/experiment/run-experiment.ts';
import { TRAJECTORY_COLUMNS, type ExperimentResult, type TrajectoryRow } from '../../cli/experiment/results.ts';
import type { HistoryRecord } from '../../node-runtime/history.ts';
import { TEST_DATA_DIR, testLog } from '../support/cluster.ts';

/**
 * A 10 s drive replayed in 5 s: 50 Mbps for its first half, then almost nothing (5 kbps).
 * The car is slow (speed 0.005), so offloading pays on the good link and never on the bad.
 */
function writeScenario(dir: string): string {
  writeFileSync(join(dir, 'drop.tsv'), Array.from({ length: 10 }, (_, t) => `${t}\t${t < 5 ? 50 : 0.005}`).join('\n') + '\n');
  const file = join(dir, 'drive.json');
  writeFileSync(file, JSON.stringify({
    kind: 'trajectory', name: 'short-drive', seed: 3, model: 'chain', trace: 'drop.tsv',
    devices: [
      { id: 'car1', role: 'iot', speed: 0.005, memoryMiB: 1024, power: 'raspberry-pi-4', radio: 'lte' },
      { id: 'edge1', role: 'edge', speed: 0.5, link: { upMbps: 200, downMbps: 200, rttMs: 2 } },
    ],
    link: { downMbps: 50, rttMs: 4 }, jobsPerSecond: 1, timeScale: 2, warmupJobs: 0, timeoutMs: 30_000,
  }));
  return file;
}

test('experiment — a short time-scaled drive compares a fixed plan, auto and local; fixed keeps its placement, auto follows the bandwidth', async () => {
  process.env['EDGEWEAVE_CACHE_DIR'] ??= join(TEST_DATA_DIR, 'models');
  const dir = mkdtempSync(join(tmpdir(), 'edgeweave-drive-'));
  const scenario = loadScenario(writeScenario(dir));
  const { result, files } = await runExperiment({ scenario, outDir: join(dir, 'out'), dataDir: join(dir, 'data'), log: testLog() });

  // Raw results: 10 jobs per strategy, every column.
  const rows = result.rows as TrajectoryRow[];
  assert.equal(rows.length, 30);
  const csv = readFileSync(files.csv, 'utf8').trimEnd().split('\n').map((l) => l.split(','));
  assert.deepEqual(csv[0], TRAJECTORY_COLUMNS.map(([h]) => h));
  assert.equal(csv.length, 31);
  assert.ok(csv.slice(1).every((c) => c.length === TRAJECTORY_COLUMNS.length));
  const json = JSON.parse(readFileSync(files.json, 'utf8')) as ExperimentResult;
  assert.equal(json.rows.length, 30);
  assert.equal(json.driveS, 10);
  assert.deepEqual(json.traceClocks!.map((c) => c.device), ['car1-fixed', 'car1-auto', 'car1-local']);
  for (const c of json.traceClocks!) assert.ok(c.observations > 5 && c.uncertaintyMs < 500, `${c.device}: the trace start located (${JSON.stringify(c)})`);
  const html = readFileSync(files.html, 'utf8');
  assert.equal((html.match(/<svg/g) ?? []).length, 5, 'latency along the drive over the bandwidth, latency/energy/speed-up vs bandwidth, predicted vs measured');
  assert.match(html, /downlink throughput measurements/);

  const by = (s: string): TrajectoryRow[] => rows.filter((r) => r.algorithm === s);
  for (const s of ['fixed', 'auto', 'local']) {
    const list = by(s);
    assert.equal(list.length, 10);
    assert.deepEqual(list.map((r) => r.device), Array(10).fill(`car1-${s}`));
    assert.ok(list.every((r) => r.status === 'ok'), `${s}: ${list.map((r) => r.error).filter(Boolean).join('; ')}`);
    assert.ok(list.every((r, k) => k === 0 || r.driveTimeS > list[k - 1]!.driveTimeS), 'jobs go out along the drive');
    assert.ok(list.every((r) => r.tracePositionS >= 0 && r.tracePositionS < 10 && (r.uplinkMbps === 50 || r.uplinkMbps === 0.005)));
    assert.ok(list.some((r) => r.uplinkMbps === 50) && list.some((r) => r.uplinkMbps === 0.005), `${s} drove through both halves`);
  }

  // The fixed plan: one placement, task by task, for every job.
  const jobs = new Map(result.jobs.map((j) => [j.jobId, j] as [string, HistoryRecord]));
  const fixedPlacements = new Set(by('fixed').map((r) => JSON.stringify(jobs.get(r.jobId)!.placement)));
  assert.equal(fixedPlacements.size, 1, [...fixedPlacements].join('\n'));
  // auto re-plans: off the car while the link is good, on the car once it has dropped.
  const auto = by('auto');
  const sure = (r: TrajectoryRow, mbps: number): boolean => r.uplinkMbps === mbps && r.announcedUplinkMbps === mbps;
  assert.ok(auto.some((r) => sure(r, 50) && r.offloadedTasks > 0), `auto offloads at 50 Mbps:\n${auto.map((r) => `${r.uplinkMbps} ${r.announcedUplinkMbps} ${r.placement}`).join('\n')}`);
  assert.ok(auto.some((r) => sure(r, 0.005) && r.offloadedTasks === 0), `auto stays on the car at 5 kbps:\n${auto.map((r) => `${r.uplinkMbps} ${r.announcedUplinkMbps} ${r.placement}`).join('\n')}`);
  assert.ok(new Set(auto.map((r) => r.placement)).size >= 2);
  assert.ok(by('local').every((r) => r.offloadedTasks === 0 && r.placement === 'car1-local:5'));
});
