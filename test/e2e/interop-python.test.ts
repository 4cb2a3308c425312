import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { getTaskGraph } from '../../models/task-graph.ts';

const PROTO_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));
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
    execFileSync('protoc', [`--proto_path=${PROTO_DIR}`, `--python_out=${generated}`, join(PROTO_DIR, 'edgeweave.proto')]);
    cluster = await startCluster({ devices: [{ id: 'edge1', role: 'edge', models: ['chain'] }, { id: 'cloud1', role: 'cloud', models: ['chain'] }] });
    await cluster.ready();
  });

  after(async () => {
    await cluster?.close();
  });

  test('interop — paho-mqtt + protobuf: submit a job as a non-device origin and read its result', async () => {
    const graph = await getTaskGraph('chain', { fused: true });
    const inputShape = graph.tasks.find((t) => t.id === graph.inputs[0])!.outputShape;
    const url = new URL(cluster.brokerUrl);
    // Asynchronously: the broker and devices live in this process and must keep serving.
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(PYTHON, [CLIENT, generated, url.hostname, url.port, 'py1', 'chain', inputShape.join(',')]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    });
    assert.equal(run.status, 0, run.stderr);
    const outcome = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { status: string; shape: number[]; first: number[]; stages: number };
    assert.equal(outcome.status, 'JOB_STATUS_OK', run.stdout);
    const outputShape = graph.tasks.find((t) => t.id === graph.outputs[0])!.outputShape;
    assert.deepEqual(outcome.shape, [1, ...outputShape]);
    assert.ok(outcome.first.length > 0 && outcome.first.every((v) => Number.isFinite(v)));
    assert.ok(outcome.stages >= 1, 'the result carries the timing trace');
  });
});
