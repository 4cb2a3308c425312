import { after, before, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { profileModel, resolveModel, taskGraphOf } from '../../models/index.ts';
import { DeviceProfile } from '../../schemas/index.ts';
import { CACHE_DIR, tempDir } from '../support/models-fixtures.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

/** Runs the real CLI; resolves to its exit code and output. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'bin', 'edgeweave.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, EDGEWEAVE_CACHE_DIR: CACHE_DIR, EDGEWEAVE_LOG_LEVEL: 'warn' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir('models-profile');
}, { timeout: SETUP_TIMEOUT_MS });
after(async () => {
  await closeInOrder('models-profile', [['the temp dir', tmp && (() => tmp.remove())]]);
}, { timeout: TEARDOWN_TIMEOUT_MS });

test('models profile — every task gets a median latency and its output bytes, beside one whole predict', async () => {
  const model = await resolveModel('fusion', { cacheDir: CACHE_DIR });
  const before = tf.memory().numTensors;
  const seen: string[] = [];
  const p = await profileModel(model, { runs: 3, fused: true, onTask: (t) => seen.push(t.taskId) });
  assert.equal(tf.memory().numTensors, before, 'profiling leaks no tensor');
  const graph = taskGraphOf(model, { fused: true });
  assert.deepEqual(p.tasks.map((t) => t.taskId), graph.tasks.map((t) => t.id));
  assert.deepEqual(seen, graph.tasks.map((t) => t.id));
  assert.deepEqual(p.tasks.map((t) => t.outputBytes), graph.tasks.map((t) => t.outputBytes));
  // Every task that computes was timed; the input tasks compute nothing.
  for (const t of p.tasks) {
    if (graph.inputs.includes(t.taskId)) assert.equal(t.latencyMs, 0, `input task ${t.taskId} costs nothing`);
    else assert.ok(t.latencyMs > 0 && Number.isFinite(t.latencyMs), `task ${t.taskId} was timed (${t.latencyMs} ms)`);
  }
  assert.ok(p.wholePredictMs > 0 && p.sumTasksMs > 0 && p.splitRunMs > 0);
  assert.equal(p.splitRatio, p.sumTasksMs / p.wholePredictMs);
  assert.deepEqual([p.modelId, p.modelHash, p.runs, p.fused], [model.modelId, model.modelHash, 3, true]);
});

test('models cli — profile writes a DeviceProfile protobuf that decodes to the measured tasks', async () => {
  const out = path.join(tmp.dir, 'chain.pb');
  const r = await cli('profile', 'chain', '--runs', '2', '--device-id', 'pi-1', '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const printed = JSON.parse(r.stdout) as { out: string; splitRatio: number };
  assert.equal(printed.out, out);
  const profile = DeviceProfile.decode(await readFile(out));
  assert.equal(profile.deviceId, 'pi-1');
  assert.ok(['tfjs-node', 'wasm', 'cpu'].includes(profile.engine));
  const [m] = profile.models;
  assert.equal(m?.model?.name, 'chain');
  assert.match(m?.model?.sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.equal(m?.tasks.length, 9);
  assert.ok((m?.wholePredictMs ?? 0) > 0);
});

test('models cli — info, list, inspect and verify answer; usage mistakes exit 2', async () => {
  const info = await cli('info', '--json');
  assert.equal(info.code, 0, info.stderr);
  assert.ok(['tfjs-node', 'wasm', 'cpu'].includes((JSON.parse(info.stdout) as { engine: { name: string } }).engine.name));
  const list = await cli('models', 'list', '--json');
  assert.deepEqual((JSON.parse(list.stdout) as Array<{ name: string }>).map((m) => m.name), ['chain', 'vgg16', 'resnet18', 'resnet50', 'mobilenetv2', 'inception', 'fusion']);
  const inspect = await cli('models', 'inspect', 'vgg16', '--shard', 'fc1=4', '--fused');
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout, /^fc1#3\s+DenseShard\s+4\.0\s+98\.004/m);
  assert.match(inspect.stdout, /^fc1\s+DenseJoin/m);
  const verify = await cli('models', 'verify', 'fusion', '--partitions', '2');
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /stages match predict: max \|diff\| /);
  for (const args of [['models', 'bogus'], ['models', 'inspect'], ['models', 'inspect', 'vgg16', '--shard', 'fc1'], ['profile', 'chain', '--runs', 'many'], ['info', '--engine', 'gpu']]) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  const missing = await cli('models', 'inspect', '--model', path.join(tmp.dir, 'nope.json'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /E_MODEL_NOT_FOUND/);
});
