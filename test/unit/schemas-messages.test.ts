import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as wire from '../../schemas/generated/edgeweave.ts';
import { DESCRIPTOR } from '../../schemas/generated/edgeweave.ts';
import { encodeTensor } from '../../schemas/tensor-codec.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';
import type { MessageCodec } from '../../schemas/proto-runtime.ts';

const codecs = Object.entries(wire).filter(([, v]) => typeof v === 'object' && v !== null && 'typeName' in v) as Array<[string, MessageCodec<unknown, object>]>;

test('messages — a codec exists for every message type of the descriptor', () => {
  const declared = Object.entries(DESCRIPTOR.nested.edgeweave.nested.v1.nested).filter(([, v]) => 'fields' in v).map(([k]) => k).sort();
  assert.deepEqual(codecs.map(([k]) => k).sort(), declared);
  assert.ok(declared.length >= 20);
});

test('messages — decoding an empty buffer gives every field its default', () => {
  const status = wire.DeviceStatus.decode(new Uint8Array(0));
  assert.equal(status.deviceId, '');
  assert.equal(status.state, wire.DeviceState.DEVICE_STATE_UNSPECIFIED);
  assert.deepEqual(status.workers, []);
  assert.equal(status.link, null);
  const plan = wire.JobPlan.decode(new Uint8Array(0));
  assert.deepEqual(plan.placement, {});
  assert.deepEqual(plan.stages, []);
});

test('messages — a full job plan, stage input and result survive the wire', () => {
  const tensor = encodeTensor({ dtype: 'float32', shape: [1, 4], values: new Float32Array([1, 2, 3, 4]) }, { name: 'conv1' });
  const plan: wire.JobPlanInit = {
    jobId: 'j1', attempt: 2, originDevice: 'car1', model: { name: 'resnet18', sha256: 'ab'.repeat(32) }, algorithm: 'heft',
    objective: { kind: wire.ObjectiveKind.OBJECTIVE_WEIGHTED, latencyWeight: 1, energyWeight: 0.5, deadlineMs: 500 },
    stages: [
      {
        stageId: 's0', deviceId: 'car1', taskIds: ['input', 'conv1'], final: false,
        outputs: [{ tensor: 'conv1', toDevice: 'edge1', toStage: 's1', encoding: wire.Encoding.ENCODING_FLOAT16 }],
        predicted: { readyMs: 0, startMs: 0, computeMs: 12.5, finishMs: 12.5, energyJ: 0.07 },
      },
      {
        stageId: 's1', deviceId: 'edge1', taskIds: ['fc'], final: true, worker: 'w1',
        inputs: [{ tensor: 'conv1', fromDevice: 'car1', fromStage: 's0', encoding: wire.Encoding.ENCODING_FLOAT16 }],
      },
    ],
    placement: { input: 'car1', conv1: 'car1', fc: 'edge1' },
    predictedLatencyMs: 42.25, predictedEnergyJ: { car1: 0.1, edge1: 0.3 }, outputs: ['fc'], submittedAtMs: 1_790_000_000_123.5,
  };
  const input: wire.StageInputInit = {
    jobId: 'j1', attempt: 2, stageId: 's1', plan, tensors: [tensor], fromDevice: 'car1', fromStage: 's0',
    capability: new Uint8Array([1, 2, 3]), sentAtMs: 1_790_000_000_200,
    trace: [{ stageId: 's0', deviceId: 'car1', workerId: 'w0', computeMs: 12, bytesOut: 16, taskIds: ['input', 'conv1'] }],
  };
  const decoded = wire.StageInput.decode(wire.StageInput.encode(input));
  assert.equal(decoded.plan?.stages[1]?.inputs[0]?.encoding, wire.Encoding.ENCODING_FLOAT16);
  assert.equal(decoded.plan?.stages[1]?.worker, 'w1');
  assert.deepEqual(decoded.plan?.placement, plan.placement);
  assert.deepEqual(decoded.plan?.predictedEnergyJ, { car1: 0.1, edge1: 0.3 });
  assert.equal(decoded.plan?.submittedAtMs, 1_790_000_000_123.5);
  assert.deepEqual(Array.from(decoded.capability), [1, 2, 3]);
  assert.equal(decoded.tensors[0]?.name, 'conv1');
  assert.deepEqual(decoded.tensors[0]?.shape, [1, 4]);
  assert.equal(decoded.trace[0]?.bytesOut, 16);

  const request = wire.JobRequest.decode(wire.JobRequest.encode({
    jobId: 'j1', originDevice: 'car1', model: { name: 'fusion' },
    inputs: [{ taskId: 'image', tensor }, { taskId: 'radar', sourceDevice: 'edge1', sourceKey: 'radar0' }],
  }));
  assert.equal(request.inputs[0]?.source, 'tensor');
  assert.equal(request.inputs[1]?.source, 'sourceDevice');
  assert.equal(request.inputs[1]?.sourceDevice, 'edge1');
});

test('messages — random bytes either decode or fail with E_DECODE, never anything else', () => {
  let s = 12345;
  const rand = (): number => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
    for (const [, codec] of codecs) {
      try {
        codec.decode(bytes);
      } catch (err) {
        assert.ok(err instanceof EdgeweaveError, `${codec.typeName}: ${String(err)}`);
        assert.equal(err.code, 'E_DECODE');
        refused++;
      }
    }
  }
  assert.ok(refused > 1000, `most random inputs are malformed (${refused} refused)`);
});

test('messages — a truncated message is refused with E_DECODE', () => {
  const bytes = wire.JobRequest.encode({ jobId: 'job-with-a-long-id', originDevice: 'car1', model: { name: 'vgg16' } });
  assert.throws(() => wire.JobRequest.decode(bytes.subarray(0, bytes.length - 3)), (e: unknown) => e instanceof EdgeweaveError && e.code === 'E_DECODE');
});

test('messages — toJSON summarises long byte fields', () => {
  const json = wire.Tensor.toJSON({ name: 'x', data: new Uint8Array(1000), shape: [1000] });
  assert.equal(json['data'], '<1000 bytes>');
  assert.equal(wire.Tensor.toJSON({ data: new Uint8Array([255]) })['data'], '/w==');
});
