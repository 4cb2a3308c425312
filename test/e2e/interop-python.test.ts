import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS, closeInOrder } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';

const CLIENT = fileURLToPath(new URL('../interop/python_client.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** Why the Python interop test cannot run here (Debian's protoc, python3-protobuf, python3-paho-mqtt), or null. */
function pythonMissing(): string | null {
  const protoc = spawnSync('protoc', ['--version']);
  const py = spawnSync(PYTHON, ['-c', 'import google.protobuf, paho.mqtt.client']);
  if (protoc.status === 0 && py.status === 0) return null;
  const reason = 'protoc or Python with protobuf and paho-mqtt is missing: apt-get install protobuf-compiler python3-protobuf python3-paho-mqtt';
  if (process.env['CI']) throw new Error(`${reason}; CI must install them`);
  return reason;
}

const missing = pythonMissing();

describe('interop — a Python client speaks the wire contract from the .proto alone', { skip: missing ?? false }, () => {
  let cluster: Cluster;
  let generated: string;

  before(async () => {
    generated = mkdtempSync(join(tmpdir(), 'edgeweave-py-'));
    // The command docs/PROTOCOL.md gives, run from the repository's root.
    execFileSync('protoc', ['--proto_path=schemas', `--python_out=${generated}`, 'schemas/edgeweave.proto'], { cwd: fileURLToPath(new URL('../../', import.meta.url)) });
    cluster = await startCluster({ devices: [{ id: 'edge1', role: 'edge', models: ['chain'] }, { id: 'cloud1', role: 'cloud', models: ['chain'] }] });
    await cluster.ready();
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('python interop', [['the cluster', cluster && (() => cluster.close()), 60_000]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('interop — paho-mqtt + protobuf: submit a job as a non-device origin and read its result', async () => {
    const graph = await getTaskGraph('chain', { fused: true });
    const inputShape = graph.tasks.find((t) => t.id === graph.inputs[0])!.outputShape;
    const url = new URL(cluster.brokerUrl);
    // Asynchronously: the broker and devices live in this process and must keep serving.
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(PYTHON, [CLIENT, generated, url.hostname, url.port, 'py1', 'chain']);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    });
    assert.equal(run.status, 0, run.stderr);
    const outcome = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { status: string; input: string; input_shape: number[]; dtype: string; sha256: string; shape: number[]; first: number[]; stages: number; top: Array<[number, string, number]>; latency_ms: number };
    assert.equal(outcome.status, 'JOB_STATUS_OK', run.stdout);
    // The input it sent was learned from the retained model card alone.
    assert.deepEqual({ input: outcome.input, shape: outcome.input_shape, dtype: outcome.dtype }, { input: graph.inputs[0], shape: inputShape, dtype: 'float32' });
    const held = cluster.planners[0]!.registry.get('edge1')!.status.modelRefs.find((r) => r.name === 'chain')!;
    assert.equal(outcome.sha256, held.sha256, 'it named the model by the hash its card gives');
    const outputShape = graph.tasks.find((t) => t.id === graph.outputs[0])!.outputShape;
    assert.deepEqual(outcome.shape, [1, ...outputShape]);
    assert.ok(outcome.first.length > 0 && outcome.first.every((v) => Number.isFinite(v)));
    assert.ok(outcome.stages >= 1, 'the result carries the timing trace');
    const classes = outputShape.reduce((a, b) => a * b, 1);
    assert.equal(outcome.top.length, Math.min(5, classes), 'the top 5 classes');
    assert.ok(outcome.top.every(([index], k) => index >= 0 && index < classes && (k === 0 || outcome.top[k - 1]![2] >= outcome.top[k]![2])), 'indices in range, most likely first');
    assert.ok(outcome.latency_ms > 0, 'a measured latency');
  });
});
