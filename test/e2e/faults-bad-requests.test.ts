import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { connectClient, subscribe, type TestClient } from '../support/mqtt.ts';
import { SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS, closeInOrder } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { splitJobData } from '../../node-runtime/client-handover.ts';
import { DType, Encoding, JobRequest, JobResult, JobStatus, type JobInputInit, type JobRequestInit } from '../../schemas/generated/edgeweave.ts';
import { filters, topics } from '../../schemas/topics.ts';

/** A bad submission, where its answer must come, and the code it must carry. */
interface Case {
  name: string;
  origin: string;
  payload: Uint8Array;
  /** The job id the answer names (on the job's result topic when valid, else on jobs/{origin}/rejected). */
  answerJobId: string;
  onRejectedTopic: boolean;
  code: string;
}

const f32 = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);

describe('faults — malformed job requests are answered, at once, to their origin', () => {
  let cluster: Cluster;
  let origins: TestClient;
  let good: JobInputInit[];
  let camera: JobInputInit;
  let inputShape: number[];

  before(async () => {
    cluster = await startCluster({ devices: [{ id: 'car1', role: 'iot', models: ['chain', 'fusion'] }, { id: 'edge1', role: 'edge', models: ['chain', 'fusion'] }] });
    await cluster.ready();
    const chain = await getTaskGraph('chain', { fused: true });
    inputShape = chain.tasks.find((t) => t.id === chain.inputs[0])!.outputShape;
    good = await buildJobInputs(chain, ['random:1']);
    const fusion = await getTaskGraph('fusion', { fused: true });
    camera = (await buildJobInputs(fusion, ['camera=random:3', 'sensor=random:4']))[0]!;
    // One client listens as two origins: car1 (a device) and py1 (a program that is not one).
    origins = await connectClient(cluster.brokerUrl, { clientId: 'bad-requests' });
    await subscribe(origins.client, [filters.jobResults('car1'), filters.jobRejections('car1'), filters.jobResults('py1'), filters.jobRejections('py1')], 1);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('bad requests', [['the origins\' client', origins && (() => origins.client.endAsync(true))], ['the cluster', cluster && (() => cluster.close()), 60_000]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('faults — each malformed request gets a typed REJECTED answer within 1 s, and nothing is planned', async () => {
    // As a client submits them: the data described, held by the origin's device.
    const described = splitJobData({ inputs: good }).wire.inputs!;
    const req = (jobId: string, extra: Partial<JobRequestInit> = {}): JobRequestInit => ({ jobId, originDevice: 'car1', model: { name: 'chain' }, inputs: described, fused: true, ...extra });
    const heldInput = (tensor: Record<string, unknown>): JobInputInit[] => [{ taskId: good[0]!.taskId ?? '', held: { name: good[0]!.taskId ?? '', dtype: DType.DTYPE_FLOAT32, encoding: Encoding.ENCODING_RAW, data: new Uint8Array(0), ...tensor } }];
    const count = inputShape.reduce((a, b) => a * b, 1);
    const long = 'j'.repeat(65);
    const onTopic = (name: string, jobId: string, code: string, init: JobRequestInit, origin = 'car1'): Case => ({ name, origin, payload: JobRequest.encode(init), answerJobId: jobId, onRejectedTopic: false, code });
    const cases: Case[] = [
      onTopic('origin_device differs from the topic', 'bad-origin', 'E_TOPIC', req('bad-origin', { originDevice: 'car2' })),
      { name: 'a job id with a space', origin: 'car1', payload: JobRequest.encode(req('bad id')), answerJobId: 'bad id', onRejectedTopic: true, code: 'E_TOPIC' },
      { name: 'a job id of 65 characters', origin: 'car1', payload: JobRequest.encode(req(long)), answerJobId: long, onRejectedTopic: true, code: 'E_TOPIC' },
      { name: 'a payload that is not protobuf', origin: 'car1', payload: Buffer.from([0x0a, 0xff, 0x01, 0x41]), answerJobId: '', onRejectedTopic: true, code: 'E_DECODE' },
      { name: 'a truncated request', origin: 'car1', payload: JobRequest.encode(req('cut-short')).subarray(0, 9), answerJobId: '', onRejectedTopic: true, code: 'E_DECODE' },
      onTopic('no inputs', 'no-inputs', 'E_INPUT', req('no-inputs', { inputs: [] })),
      onTopic('a surplus input', 'surplus', 'E_INPUT', req('surplus', { inputs: [...described, { taskId: 'not-an-input', held: { dtype: DType.DTYPE_FLOAT32, shape: [1], data: new Uint8Array(0) } }] })),
      onTopic('the same input twice', 'twice', 'E_INPUT', req('twice', { inputs: [...described, ...described] })),
      onTopic('a missing input of a two-input model', 'one-of-two', 'E_INPUT', req('one-of-two', { model: { name: 'fusion' }, inputs: splitJobData({ inputs: [camera] }).wire.inputs! })),
      onTopic('the data itself, sent to the planner', 'inline-data', 'E_INPUT', req('inline-data', { inputs: good })),
      onTopic('a description that carries data', 'carries-data', 'E_TENSOR', req('carries-data', { inputs: heldInput({ shape: [1, ...inputShape], data: f32([1, 2, 3]) }) })),
      onTopic('an unknown dtype', 'bad-dtype', 'E_TENSOR', req('bad-dtype', { inputs: heldInput({ shape: [1, ...inputShape], dtype: 42 }) })),
      onTopic('a tensor that is not the model\'s input shape', 'wrong-shape', 'E_INPUT', req('wrong-shape', { inputs: heldInput({ shape: [1, count + 1] }) })),
      onTopic('an input with neither data nor a source', 'no-source', 'E_INPUT', req('no-source', { inputs: [{ taskId: good[0]!.taskId ?? '' }] })),
      onTopic('an unknown model', 'no-model', 'E_MODEL_NOT_FOUND', req('no-model', { model: { name: 'no-such-model' } })),
      onTopic('no model at all', 'unnamed', 'E_MODEL_NOT_FOUND', req('unnamed', { model: { name: '' } })),
      { name: 'a bad job id from an origin that is not a device', origin: 'py1', payload: JobRequest.encode({ ...req('bad/id'), originDevice: 'py1' }), answerJobId: 'bad/id', onRejectedTopic: true, code: 'E_TOPIC' },
    ];
    const planner = cluster.planners[0]!;
    const plannedBefore = planner.planned;
    const replansBefore = planner.replanned;
    const sentAt = new Map<string, number>();
    for (const c of cases) {
      sentAt.set(c.name, Date.now());
      await origins.client.publishAsync(topics.jobSubmit(c.origin), Buffer.from(c.payload), { qos: 1 });
    }
    const answerOf = (c: Case): { result: JobResult; atMs: number } | undefined => {
      const topic = c.onRejectedTopic ? topics.jobRejected(c.origin) : topics.jobResult(c.origin, c.answerJobId);
      for (const [i, m] of origins.inbox.messages.entries()) {
        if (m.topic !== topic) continue;
        const result = JobResult.decode(m.payload);
        if (result.jobId === c.answerJobId && (!c.onRejectedTopic || result.error?.code === c.code)) return { result, atMs: arrivals[i] ?? Infinity };
      }
      return undefined;
    };
    const arrivals: number[] = [];
    const stamp = (): void => { while (arrivals.length < origins.inbox.messages.length) arrivals.push(Date.now()); };
    origins.client.on('message', stamp);
    stamp();
    await origins.inbox.waitUntil(() => { stamp(); return cases.every((c) => answerOf(c) !== undefined); }, 'an answer to every bad request', 5_000)
      .catch(() => assert.fail(`no answer to: ${cases.filter((c) => !answerOf(c)).map((c) => c.name).join('; ')}`));
    for (const c of cases) {
      const { result, atMs } = answerOf(c)!;
      assert.equal(result.status, JobStatus.JOB_STATUS_REJECTED, `${c.name}: REJECTED`);
      assert.equal(result.error?.code, c.code, `${c.name}: ${result.error?.message}`);
      assert.ok((result.error?.message ?? '').length > 10, `${c.name}: says why`);
      assert.ok(atMs - sentAt.get(c.name)! <= 1000, `${c.name}: answered in ${atMs - sentAt.get(c.name)!} ms`);
    }
    assert.equal(planner.planned, plannedBefore, 'none of them was planned');
    assert.equal(planner.replanned, replansBefore, 'none cost a re-plan');
    // The same origin's good jobs still run.
    const client = await cluster.client('car1');
    const ok = await client.submit({ jobId: 'after-the-bad-ones', model: { name: 'chain' }, inputs: good, fused: true, timeoutMs: 20_000 });
    assert.equal(ok.result.status, JobStatus.JOB_STATUS_OK);
  });

  test('faults — the job client refuses a job id that cannot name a topic, before sending anything', async () => {
    const client = await cluster.client('car1');
    await assert.rejects(client.submit({ jobId: 'has space', model: { name: 'chain' }, inputs: good }), (err: Error & { code?: string }) => err.code === 'E_TOPIC' && /1-64 characters/.test(err.message));
  });
});
