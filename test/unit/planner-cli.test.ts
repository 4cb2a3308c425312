import { test, before, after } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { command } from '../../cli/commands/plan.ts';
import { parseCommandArgs, type CommandContext } from '../../cli/command.ts';
import { silentLogger } from '../../cli/logger.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import { chainGraph } from '../support/planner-fixtures.ts';

const DEVICES = '{"origin":"car1","devices":[{"id":"car1","role":"iot","speed":0.1,"memoryMiB":1024,"power":"raspberry-pi-4","radio":"wifi","link":{"upMbps":10,"downMbps":20,"rttMs":10}},{"id":"edge1","role":"edge","speed":0.5,"memoryMiB":8192,"link":{"upMbps":200,"downMbps":200,"rttMs":2}},{"id":"cloud1","role":"cloud","speed":1,"memoryMiB":65536,"link":{"upMbps":50,"downMbps":50,"rttMs":40}}]}';

let dir = '';
let devices = '';
let graph = '';

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'edgeweave-plan-'));
  devices = path.join(dir, 'devices.json');
  graph = path.join(dir, 'graph.json');
  await writeFile(devices, DEVICES);
  await writeFile(graph, JSON.stringify(chainGraph(6, (i) => ({ flops: 3e9 / i, outputBytes: 500_000 / i, paramBytes: 1e6 }))));
}, { timeout: 10_000 });

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
}, { timeout: 10_000 });

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const stdout = new Writable({ write(chunk, _enc, done) { out += String(chunk); done(); } });
  const ctx: CommandContext = { ...parseCommandArgs(command, argv), log: silentLogger(), stdout, stopSignal: new Promise(() => undefined) };
  const code = await command.run(ctx);
  return { code, out };
}

async function failure(argv: string[]): Promise<{ code: string; message: string }> {
  try {
    await run(argv);
  } catch (err: unknown) {
    if (!isEdgeweaveError(err)) throw err;
    return { code: err.code, message: err.message };
  }
  return assert.fail('expected an error');
}

test('planner cli — prints the placement by stage, the latency and per-device energy', async () => {
  const { code, out } = await run(['--graph', graph, '--devices', devices]);
  assert.equal(code, 0);
  assert.match(out, /algorithm auto/);
  assert.match(out, /stage\s+device\s+worker\s+tasks/);
  assert.match(out, /predicted latency: [\d.]+ ms/);
  assert.match(out, /car1\s+[\d.]+/);
  assert.match(out, /cloud1|edge1/);
});

test('planner cli — --json gives algorithm, latency, energy per device, stages and placement', async () => {
  const { code, out } = await run(['--graph', graph, '--devices', devices, '--algorithm', 'heft', '--json']);
  assert.equal(code, 0);
  const json = JSON.parse(out) as Record<string, unknown>;
  assert.equal(json['algorithm'], 'heft');
  assert.equal(typeof json['predictedLatencyMs'], 'number');
  assert.deepEqual(Object.keys(json['predictedEnergyJ'] as object).sort(), ['car1', 'cloud1', 'edge1']);
  const stages = json['stages'] as Array<{ device: string; tasks: string[] }>;
  assert.ok(stages.length >= 1 && stages.every((s) => typeof s.device === 'string' && Array.isArray(s.tasks)));
  assert.equal(Object.keys(json['placement'] as object).length, 7);
  assert.equal((json['placement'] as Record<string, string>)['input'], 'car1');
});

test('planner cli — --compare runs every algorithm side by side', async () => {
  const text = await run(['--graph', graph, '--devices', devices, '--compare']);
  assert.equal(text.code, 0);
  for (const name of ['auto', 'local', 'edge', 'cloud', 'neurosurgeon', 'chain-dp', 'dads', 'heft', 'exact']) assert.match(text.out, new RegExp(`^${name}\\s`, 'm'));
  assert.match(text.out, /latency ms\s+origin J/);
  const json = await run(['--graph', graph, '--devices', devices, '--compare', '--json', '--objective', 'energy']);
  const list = JSON.parse(json.out) as Array<{ algorithm: string; ok: boolean; planningMs: number }>;
  assert.deepEqual(list.map((p) => p.algorithm).sort(), ['auto', 'chain-dp', 'cloud', 'dads', 'edge', 'exact', 'heft', 'local', 'neurosurgeon']);
  assert.deepEqual(list.filter((p) => !p.ok || !Number.isFinite(p.planningMs)).map((p) => p.algorithm), [], 'every algorithm planned, with its planning time');
});

test('planner cli — an unreachable deadline exits 1 with the typed reason', async () => {
  const { code, out } = await run(['--graph', graph, '--devices', devices, '--deadline-ms', '1', '--json']);
  assert.equal(code, 1);
  const json = JSON.parse(out) as { ok: boolean; issues: Array<{ code: string; reason: string }> };
  assert.equal(json.ok, false);
  assert.equal(json.issues[0]!.code, 'E_INFEASIBLE');
  assert.equal(json.issues[0]!.reason, 'deadline');
});

test('planner cli — usage mistakes are E_USAGE', async () => {
  assert.equal((await failure(['--graph', graph])).code, 'E_USAGE');
  assert.equal((await failure(['--devices', devices])).code, 'E_USAGE');
  assert.equal((await failure(['--graph', graph, '--model', 'vgg16', '--devices', devices])).code, 'E_USAGE');
  assert.match((await failure(['--graph', graph, '--devices', devices, '--algorithm', 'magic'])).message, /--algorithm must be one of auto, local/);
  assert.equal((await failure(['--graph', graph, '--devices', devices, '--objective', 'speed'])).code, 'E_USAGE');
  assert.equal((await failure(['--graph', graph, '--devices', devices, '--deadline-ms', 'soon'])).code, 'E_USAGE');
  assert.match((await failure(['--graph', graph, '--devices', devices, '--exclude', 'edge9'])).message, /--exclude names "edge9"/);
});

test('planner cli — a bad devices file is E_CONFIG naming the field', async () => {
  const bad = path.join(dir, 'bad.json');
  await writeFile(bad, DEVICES.replace('"upMbps":200', '"upMbps":"fast"'));
  const err = await failure(['--graph', graph, '--devices', bad]);
  assert.equal(err.code, 'E_CONFIG');
  assert.match(err.message, /\$\.devices\[1\]\.link\.upMbps: must be a number > 0 \(got "fast"\)/);
  assert.equal((await failure(['--graph', graph, '--devices', path.join(dir, 'missing.json')])).code, 'E_CONFIG');
});

test('planner cli — --model plans a zoo model through models/getTaskGraph; --exclude leaves devices out', async () => {
  const { code, out } = await run(['--model', 'resnet18', '--fused', '--devices', devices, '--exclude', 'cloud1', '--json']);
  assert.equal(code, 0);
  const json = JSON.parse(out) as { placement: Record<string, string>; predictedEnergyJ: Record<string, number> };
  assert.ok(Object.keys(json.placement).length > 1);
  assert.ok(!Object.values(json.placement).includes('cloud1'));
  assert.ok(!('cloud1' in json.predictedEnergyJ));
});

test('planner cli — a malformed graph file comes back as E_BAD_DAG issues, not a crash', async () => {
  const broken = path.join(dir, 'broken.json');
  const g = chainGraph(2);
  g.tasks[1]!.preds.push('ghost');
  await writeFile(broken, JSON.stringify(g));
  const { code, out } = await run(['--graph', broken, '--devices', devices, '--json']);
  assert.equal(code, 1);
  assert.equal((JSON.parse(out) as { issues: Array<{ code: string }> }).issues[0]!.code, 'E_BAD_DAG');
});
