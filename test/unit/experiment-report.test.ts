import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { fillSpeedups, groupSpeedup, resultsCsv, toCsv, SWEEP_COLUMNS, TRAJECTORY_COLUMNS, type ExperimentResult, type JobRow, type SweepRow, type TrajectoryRow } from '../../cli/experiment/results.ts';
import { experimentHtml } from '../../cli/experiment/report.ts';
import { summaryTable } from '../../cli/experiment/summary.ts';
import { parseScenario } from '../../cli/experiment/scenario.ts';
import { lineChart, trackChart } from '../../cli/report/svg.ts';
import { fileURLToPath } from 'node:url';

const TRACE = fileURLToPath(new URL('../../data/traces/hsdpa-norway_train_5.tsv', import.meta.url));

function row(algorithm: string, latencyMs: number, extra: Partial<JobRow> = {}): JobRow {
  return {
    algorithm, job: 0, status: 'ok', latencyMs, predictedMs: latencyMs * 0.9, carEnergyJ: latencyMs / 1000, carPredictedJ: latencyMs / 1100,
    predictedLocalMs: 400, speedup: 0, placement: algorithm === 'local' ? 'car1:5' : 'car1:1 edge1:4', offloadedTasks: algorithm === 'local' ? 0 : 4,
    jobId: `j-${algorithm}-${latencyMs}`, submittedAt: '2026-01-01T00:00:00.000Z', error: '', ...extra,
  };
}

function sweepResult(): ExperimentResult {
  const scenario = parseScenario({ kind: 'sweep', models: ['chain'], algorithms: ['local', 'auto'], links: [
    { name: 'fast', upMbps: 20, downMbps: 40, rttMs: 5 }, { name: 'slow, "3g"', upMbps: 0.5, downMbps: 1, rttMs: 80, radio: '3g' }] });
  const rows: SweepRow[] = [];
  for (const [link, up, auto] of [['fast', 20, 100], ['slow, "3g"', 0.5, 300]] as const) {
    for (const [a, ms] of [['local', 400], ['auto', auto]] as const) {
      rows.push({ ...row(a, ms), model: 'chain', speeds: 'as declared', link, upMbps: up, downMbps: up * 2, rttMs: 5, radio: 'wifi' });
    }
  }
  rows.push({ ...row('auto', 0, { status: 'timeout', error: 'E_TIMEOUT: no result' }), model: 'chain', speeds: 'as declared', link: 'fast', upMbps: 20, downMbps: 40, rttMs: 5, radio: 'wifi' });
  fillSpeedups(rows, (r) => r.link);
  return { kind: 'sweep', scenario, startedAt: '2026-01-01T00:00:00.000Z', durationS: 12, brokerUrl: 'mqtt://127.0.0.1:1883', interrupted: false, rows, jobs: [] };
}

test('experiment results — CSV has one header and one line per job, with quoting', () => {
  const result = sweepResult();
  const lines = resultsCsv(result).trimEnd().split('\n');
  assert.equal(lines.length, 1 + result.rows.length);
  assert.equal(lines[0], SWEEP_COLUMNS.map(([h]) => h).join(','));
  assert.ok(lines[0]!.startsWith('model,speeds,link,up_mbps,down_mbps,rtt_ms,radio,algorithm,job,status,latency_ms,predicted_ms,car_energy_j'));
  assert.ok(lines.some((l) => l.startsWith('chain,as declared,"slow, ""3g""",0.5,')), 'a cell with a comma or a quote is quoted');
  assert.ok(lines.at(-1)!.includes(',timeout,') && lines.at(-1)!.endsWith(',E_TIMEOUT: no result'));
  assert.equal(toCsv(TRAJECTORY_COLUMNS, [] as TrajectoryRow[]).split(',').slice(0, 8).join(','), 'model,strategy,device,job,drive_time_s,trace_position_s,uplink_mbps,announced_uplink_mbps');
});

test('experiment results — speed-up over local: the measured local mean of the same group, else the plan\'s prediction', () => {
  const rows = [row('local', 400), row('local', 600), row('auto', 250), row('edge', 1000, { status: 'failed' }), row('cloud', 200)];
  fillSpeedups(rows, (r) => (r.algorithm === 'cloud' ? 'other' : 'g'));
  assert.deepEqual(rows.map((r) => r.speedup), [500 / 400, 500 / 600, 2, 0, 2]);
  assert.equal(groupSpeedup(rows.filter((r) => r.algorithm === 'local')), 1, 'local against itself is exactly 1 (a ratio of means)');
  assert.ok(Number.isNaN(groupSpeedup([])));
});

test('experiment report — a sweep page has latency, energy and speed-up against bandwidth and the predicted/measured scatter', () => {
  const result = sweepResult();
  const html = experimentHtml(result);
  assert.equal((html.match(/<svg/g) ?? []).length, 4);
  for (const title of ['chain: latency vs car uplink', 'chain: car energy vs car uplink', 'chain: speed-up over local', 'predicted vs measured latency']) {
    assert.ok(html.includes(`aria-label="${title}"`), title);
  }
  assert.ok(html.includes('0.10</text>') && html.includes('100</text>'), 'bandwidths over decades get a log axis');
  assert.ok(!/<script/i.test(html) && !/https?:\/\/(?!127)/.test(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')), 'self-contained');
  const t = summaryTable(result);
  assert.deepEqual(t.rows.map((r) => r.slice(0, 4)), [['chain', 'fast', 'local', '1/1'], ['chain', 'fast', 'auto', '1/2'], ['chain', 'slow, "3g"', 'local', '1/1'], ['chain', 'slow, "3g"', 'auto', '1/1']]);
  assert.equal(t.rows[1]![t.header.indexOf('speed-up')], '4.00x');
});

test('experiment report — a trajectory page draws latency along the drive over the bandwidth, and says the traces are downlink', () => {
  const scenario = parseScenario({ kind: 'trajectory', model: 'chain', trace: TRACE, jobsPerSecond: 1 });
  const rows: TrajectoryRow[] = [];
  for (const [i, a] of ['fixed', 'auto', 'local'].entries()) {
    for (let k = 0; k < 5; k++) {
      rows.push({ ...row(a, 100 + 50 * i + k), model: 'chain', device: `car1-${a}`, job: k, driveTimeS: k, tracePositionS: k + 0.3, uplinkMbps: 0.5 + k, announcedUplinkMbps: 0.5 + k });
    }
  }
  fillSpeedups(rows, () => 'drive');
  const result: ExperimentResult = {
    kind: 'trajectory', scenario, startedAt: '2026-01-01T00:00:00.000Z', durationS: 70, brokerUrl: 'mqtt://127.0.0.1:1883', interrupted: true, rows, jobs: [],
    traceClocks: [{ device: 'car1-auto', epochMs: 1, uncertaintyMs: 4, observations: 20, inconsistent: 0 }], driveS: 60, driveTrace: [[0, 1.5], [10, 0.4], [20, 2]],
  };
  const html = experimentHtml(result);
  assert.equal((html.match(/<svg/g) ?? []).length, 5);
  for (const title of ['latency along the drive, bandwidth underneath', 'latency vs car uplink', 'car energy vs car uplink', 'speed-up over local vs car uplink', 'predicted vs measured latency']) {
    assert.ok(html.includes(`aria-label="${title}"`), title);
  }
  assert.match(html, /HSDPA 3G downlink throughput measurements/);
  assert.match(html, /as the car&#39;s uplink is an approximation|as the car's uplink is an approximation/);
  assert.match(html, /Interrupted: the results are partial/);
  assert.deepEqual(summaryTable(result).rows.map((r) => [r[0], r[2], r[9]]), [['fixed', '5/5', '1'], ['auto', '5/5', '1'], ['local', '5/5', '1']]);
});

test('svg charts — a log x axis places decades evenly; stacked panels share one x axis', () => {
  const svg = lineChart('t', 'x', 'y', [{ name: 's', points: [[1, 1], [10, 2], [100, 3]] }], { logX: true });
  const xs = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.equal(xs.length, 3);
  assert.ok(Math.abs((xs[1]! - xs[0]!) - (xs[2]! - xs[1]!)) < 0.01, `evenly spaced decades: ${xs.join(', ')}`);
  const track = trackChart('drive', 's', [
    { yLabel: 'latency ms', series: [{ name: 'auto', points: [[1, 100], [2, 300]] }] },
    { yLabel: 'Mbps', series: [{ name: 'trace', points: [[0, 2], [5, 0.5]] }], step: true },
  ], [0, 10]);
  assert.equal((track.match(/<svg/g) ?? []).length, 1);
  assert.match(track, /<path d="M[\d.]+,[\d.]+H[\d.]+V[\d.]+H[\d.]+"/, 'the bandwidth is a step line to the end of the drive');
  assert.ok(track.includes('>latency ms<') && track.includes('>Mbps<'), 'one y axis per panel');
});
