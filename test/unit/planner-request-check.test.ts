import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inputsProblem, requestProblem } from '../../planner/request-check.ts';
import { DType, Encoding, JobRequest, type JobRequestInit } from '../../schemas/generated/edgeweave.ts';
import type { TaskGraph } from '../../schemas/graph.ts';

const GRAPH: TaskGraph = {
  modelId: 'two-in',
  tasks: [
    { id: 'img', kind: 'InputLayer', preds: [], succs: ['m'], outputShape: [4, 4, 3], outputBytes: 192, flops: 0, paramBytes: 0, activationBytes: 192, layers: ['img'] },
    { id: 'imu', kind: 'InputLayer', preds: [], succs: ['m'], outputShape: [8], outputBytes: 32, flops: 0, paramBytes: 0, activationBytes: 32, layers: ['imu'] },
    { id: 'm', kind: 'Concatenate', preds: ['img', 'imu'], succs: [], outputShape: [56], outputBytes: 224, flops: 0, paramBytes: 0, activationBytes: 224, layers: ['m'] },
  ],
  inputs: ['img', 'imu'],
  outputs: ['m'],
};

const f32 = (n: number, fill = 0.5): Uint8Array => new Uint8Array(new Float32Array(n).fill(fill).buffer);
const none = new Uint8Array(0);
// Inputs as submitted: described, their data held by the origin's device.
const img = { taskId: 'img', held: { dtype: DType.DTYPE_FLOAT32, shape: [1, 4, 4, 3], data: none } };
const imu = { taskId: 'imu', held: { dtype: DType.DTYPE_FLOAT32, shape: [1, 8], data: none } };
const request = (over: Partial<JobRequestInit> = {}): JobRequest => JobRequest.create({ jobId: 'j1', originDevice: 'car1', model: { name: 'two-in' }, inputs: [img, imu], ...over });

const requestCases: Array<[string, JobRequest, string, string | undefined]> = [
  ['a well-formed request', request(), 'car1', undefined],
  ['origin differs from the topic', request({ originDevice: 'car2' }), 'car1', 'E_TOPIC'],
  ['a job id with a space', request({ jobId: 'a b' }), 'car1', 'E_TOPIC'],
  ['an empty job id', request({ jobId: '' }), 'car1', 'E_TOPIC'],
  ['a job id of 65 characters', request({ jobId: 'x'.repeat(65) }), 'car1', 'E_TOPIC'],
  ['a job id of 64 characters', request({ jobId: 'x'.repeat(64) }), 'car1', undefined],
  ['no model', request({ model: { name: '' } }), 'car1', 'E_MODEL_NOT_FOUND'],
  ['an excluded device that is no id', request({ excludeDevices: ['a/b'] }), 'car1', 'E_TOPIC'],
];
for (const [name, req, origin, code] of requestCases) {
  test(`request check — ${name}: ${code ?? 'accepted'}`, () => {
    assert.equal(requestProblem(req, origin)?.code, code);
  });
}

const inputCases: Array<[string, Partial<JobRequestInit>, string | undefined, RegExp?]> = [
  ['every input once', {}, undefined],
  ['a source device for one input', { inputs: [img, { taskId: 'imu', sourceDevice: 'edge1', sourceKey: 'imu0' }] }, undefined],
  ['batch of two', { inputs: [{ taskId: 'img', held: { ...img.held, shape: [2, 4, 4, 3] } }, imu] }, undefined],
  ['8-bit pixels', { inputs: [{ taskId: 'img', held: { dtype: DType.DTYPE_FLOAT32, encoding: Encoding.ENCODING_UINT8, shape: [1, 4, 4, 3], data: none, scale: 1 / 255 } }, imu] }, undefined],
  ['no inputs', { inputs: [] }, 'E_INPUT', /no inputs/],
  ['one input missing', { inputs: [img] }, 'E_INPUT', /imu/],
  ['an input given twice', { inputs: [img, imu, img] }, 'E_INPUT', /twice/],
  ['a surplus input', { inputs: [img, imu, { taskId: 'm', held: imu.held }] }, 'E_INPUT', /not an input/],
  ['an input naming no task in a two-input model', { inputs: [{ held: img.held }, imu] }, 'E_INPUT', /set task_id/],
  ['the data itself, sent to the planner', { inputs: [{ taskId: 'img', tensor: { ...img.held, data: f32(48) } }, imu] }, 'E_INPUT', /never passes through a planner/],
  ['a description that carries data', { inputs: [{ taskId: 'img', held: { ...img.held, data: f32(48) } }, imu] }, 'E_TENSOR', /should not carry/],
  ['an unknown dtype', { inputs: [img, { taskId: 'imu', held: { ...imu.held, dtype: 42 as DType } }] }, 'E_TENSOR', /dtype/],
  ['an unknown encoding', { inputs: [img, { taskId: 'imu', held: { ...imu.held, encoding: 9 as Encoding } }] }, 'E_TENSOR', /encoding/],
  ['a non-finite quantisation scale', { inputs: [{ taskId: 'img', held: { ...img.held, encoding: Encoding.ENCODING_UINT8, scale: Number.NaN } }, imu] }, 'E_TENSOR', /scale/],
  ['not the model\'s shape', { inputs: [{ taskId: 'img', held: { ...img.held, shape: [1, 4, 3, 4] } }, imu] }, 'E_INPUT', /takes \[batch, 4, 4, 3\]/],
  ['no batch dimension', { inputs: [{ taskId: 'img', held: { ...img.held, shape: [4, 4, 3] } }, imu] }, 'E_INPUT', /shape/],
  ['neither data nor a source', { inputs: [img, { taskId: 'imu' }] }, 'E_INPUT', /neither/],
  ['a source device that is no id', { inputs: [img, { taskId: 'imu', sourceDevice: 'no such/device' }] }, 'E_INPUT', /source device/],
];
for (const [name, over, code, message] of inputCases) {
  test(`request check — inputs: ${name}: ${code ?? 'accepted'}`, () => {
    const problem = inputsProblem(request(over), GRAPH);
    assert.equal(problem?.code, code, problem?.message);
    if (message) assert.match(problem!.message, message);
  });
}
