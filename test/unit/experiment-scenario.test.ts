import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ALGORITHMS, jobCount, loadScenario, parseScenario, strategyDeviceId, type Scenario } from '../../cli/experiment/scenario.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import type { Json } from '../../cli/experiment/fields.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/edgeweave.js');

/** The problems a scenario is refused with (one per line), or fails the test if it is accepted. */
function problems(doc: Json, file = ''): string[] {
  try {
    parseScenario(doc, file);
  } catch (err) {
    assert.ok(isEdgeweaveError(err) && err.code === 'E_CONFIG', `an E_CONFIG error, got ${String(err)}`);
    return err.message.split('\n').slice(1).map((l) => l.trim());
  }
  assert.fail('the scenario was accepted');
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'edgeweave-scenario-'));
}

const SWEEP = { kind: 'sweep', models: ['chain'], links: [{ upMbps: 10, downMbps: 20, rttMs: 10 }] };

test('experiment scenario — the shipped examples are valid, full-size scenarios', () => {
  const sweep = loadScenario(join(ROOT, 'examples/bandwidth-sweep.json'));
  assert.equal(sweep.kind, 'sweep');
  assert.ok(sweep.kind === 'sweep' && sweep.links.length >= 5 && sweep.speeds.length >= 2 && sweep.algorithms.includes('auto'));
  assert.ok(jobCount(sweep) >= 100);
  const drive = loadScenario(join(ROOT, 'examples/trajectory.json'));
  assert.ok(drive.kind === 'trajectory');
  assert.deepEqual(drive.strategies, ['fixed', 'auto', 'local']);
  assert.ok(existsSync(drive.trace), `the trace ${drive.trace} is resolved next to the scenario and exists`);
  assert.ok(drive.traceDurationS > 200 && drive.durationS === drive.traceDurationS, 'the drive lasts the whole trace by default');
  assert.equal(drive.timeScale, 1);
  assert.equal(jobCount(drive), 3 * Math.floor(drive.durationS * drive.jobsPerSecond));
});

test('experiment scenario — a minimal sweep takes the demo\'s devices and the documented defaults', () => {
  const s = parseScenario(SWEEP);
  assert.ok(s.kind === 'sweep');
  assert.deepEqual(s.devices.map((d) => [d.id, d.role, d.speed]), [['car1', 'iot', 0.1], ['edge1', 'edge', 0.5], ['cloud1', 'cloud', 1]]);
  assert.equal(s.origin, 'car1');
  assert.deepEqual(s.algorithms, DEFAULT_ALGORITHMS);
  assert.deepEqual(s.speeds, [{ name: 'as declared', speeds: {} }]);
  assert.equal(s.links[0]!.name, '10/20 Mbps 10 ms');
  assert.deepEqual([s.seed, s.jobsPerCell, s.warmupJobs, s.timeoutMs, s.name], [1, 1, 1, 180_000, 'experiment']);
  assert.ok(Object.isFrozen(s) && Object.isFrozen(s.links[0]), 'the scenario is frozen');
  assert.equal(jobCount(s), 5);
});

test('experiment scenario — every mistake is reported at once, under its field', () => {
  const found = problems({
    kind: 'sweep',
    models: ['chain', 'nosuchnet'],
    algorithms: ['auto', 'magic'],
    links: [{ name: 'ok', upMbps: 10, downMbps: 20, rttMs: 10 }, { upMbps: 'fast', downMbps: 0, rttMs: 5, radio: 'carrier-pigeon' }],
    speeds: [{ car1: 0.1 }, { car9: 1 }, { edge1: -1 }],
    jobsPerCell: 1.5,
    trace: 'x.tsv',
  });
  const expect = [
    /^models\[1\]: must be a zoo model: .*got "nosuchnet"/,
    /^algorithms\[1\]: must be an algorithm: .*got "magic"/,
    /^links\[1\]\.upMbps: must be a number > 0, got "fast"/,
    /^links\[1\]\.downMbps: must be a number > 0, got 0/,
    /^links\[1\]\.radio: must be one of wifi, lte, 3g, wired, got "carrier-pigeon"/,
    /^speeds\[1\]\.car9: is not a declared device/,
    /^speeds\[2\]\.edge1: must be a number > 0/,
    /^jobsPerCell: must be a whole number >= 1/,
    /^trace: unknown field/,
  ];
  for (const re of expect) assert.ok(found.some((p) => re.test(p)), `${re} in:\n${found.join('\n')}`);
  assert.equal(found.length, expect.length, found.join('\n'));
});

test('experiment scenario — kind, devices and origin are checked', () => {
  assert.ok(problems({ models: ['chain'] }).some((p) => /^kind: is required \(one of sweep, trajectory\)/.test(p)));
  assert.ok(problems({ kind: 'sweeep' }).some((p) => /^kind: must be one of sweep, trajectory, got "sweeep"/.test(p)));
  const devs = problems({
    ...SWEEP, origin: 'car2',
    devices: [{ id: 'car1', role: 'iot', speed: 0.1 }, { id: 'car1', role: 'fog' }, { id: 'bad id!', role: 'edge', link: { upMbps: 1 }, power: 'toaster' }],
  });
  for (const re of [/^devices\[1\]\.id: duplicate device id "car1"/, /^devices\[1\]\.role: must be one of iot, edge, cloud/, /^devices\[2\]\.id: must be 1-64 characters/,
    /^devices\[2\]\.link\.downMbps: is required/, /^devices\[2\]\.power: must be one of/, /^origin: must be one of the devices/]) {
    assert.ok(devs.some((p) => re.test(p)), `${re} in:\n${devs.join('\n')}`);
  }
  assert.throws(() => parseScenario(42), /a scenario is a JSON object/);
  assert.throws(() => parseScenario([1, 2] as Json), /a scenario is a JSON object/);
});

test('experiment scenario — a trajectory resolves its trace next to the file and checks rate, duration and strategies', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'drop.tsv'), '0\t50\n1\t50\n2\t0.1\n3\t0.1\n');
  const file = join(dir, 'drive.json');
  const doc = { kind: 'trajectory', model: 'chain', trace: 'drop.tsv', jobsPerSecond: 2, timeScale: 4 };
  writeFileSync(file, JSON.stringify(doc));
  const s = loadScenario(file) as Extract<Scenario, { kind: 'trajectory' }>;
  assert.equal(s.trace, join(dir, 'drop.tsv'));
  assert.equal(s.traceDurationS, 4);
  assert.equal(s.durationS, 4, 'duration: the trace\'s length by default');
  assert.equal(s.name, 'drive');
  assert.deepEqual(s.link, { downMbps: 20, rttMs: 10, radio: 'wifi' }, 'the cars\' down link and radio default to the origin\'s');
  assert.equal(s.schedule, 'parallel');
  assert.equal(jobCount(s), 3 * 8);
  assert.equal(strategyDeviceId(s.origin, 'auto'), 'car1-auto');

  const bad = problems({ kind: 'trajectory', model: 'chain', trace: 'missing.tsv', jobsPerSecond: 0.01, durationS: 10, strategies: ['auto', 'psychic', 'auto'], link: { upMbps: 3 } }, file);
  for (const re of [/^trace: cannot read trace file .*missing\.tsv/, /^jobsPerSecond: durationS x jobsPerSecond gives no job/, /^strategies\[1\]: must be fixed or an algorithm/,
    /^strategies\[2\]: duplicate strategy "auto"/, /^link\.upMbps: unknown field/]) {
    assert.ok(bad.some((p) => re.test(p)), `${re} in:\n${bad.join('\n')}`);
  }
  assert.ok(problems({ kind: 'trajectory', trace: 'drop.tsv' }, file).some((p) => /^model: is required/.test(p)));
  const clash = problems({ kind: 'trajectory', model: 'chain', trace: 'drop.tsv', devices: [{ id: 'car1', role: 'iot' }, { id: 'car1-auto', role: 'edge' }] }, file);
  assert.ok(clash.some((p) => /^strategies \(default fixed, auto, local\): the car "car1-auto" clashes with a declared device/.test(p)), clash.join('\n'));
});

test('experiment scenario — unreadable and malformed files are configuration errors', () => {
  const dir = tempDir();
  assert.throws(() => loadScenario(join(dir, 'none.json')), (e: unknown) => isEdgeweaveError(e) && e.code === 'E_CONFIG' && /cannot read scenario/.test(e.message));
  writeFileSync(join(dir, 'broken.json'), '{ "kind": ');
  assert.throws(() => loadScenario(join(dir, 'broken.json')), (e: unknown) => isEdgeweaveError(e) && e.code === 'E_CONFIG' && /not valid JSON/.test(e.message));
});

test('experiment command — a bad scenario exits 2 naming the field; --check validates without running', () => {
  const dir = tempDir();
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ ...SWEEP, jobsPerCell: 0 }));
  const env = { ...process.env, EDGEWEAVE_LOG_LEVEL: 'silent' };
  const r = spawnSync(process.execPath, [BIN, 'experiment', bad], { encoding: 'utf8', env });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /\n {2}jobsPerCell: must be a whole number >= 1 and <= 10000, got 0\n/);
  const none = spawnSync(process.execPath, [BIN, 'experiment'], { encoding: 'utf8', env });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /give one scenario file/);
  const check = spawnSync(process.execPath, [BIN, 'experiment', join(ROOT, 'examples/trajectory.json'), '--check', '--json'], { encoding: 'utf8', env });
  assert.equal(check.status, 0, check.stderr);
  const what = JSON.parse(check.stdout) as { jobs: number; scenario: { kind: string } };
  assert.equal(what.scenario.kind, 'trajectory');
  assert.ok(what.jobs > 100);
});
