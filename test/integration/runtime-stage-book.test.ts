import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { pino } from 'pino';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { Transport } from '../../transport/mqtt-transport.ts';
import { ModelHost } from '../../node-runtime/model-host.ts';
import { Executor } from '../../node-runtime/executor.ts';
import { StageBook } from '../../node-runtime/stage-book.ts';
import type { PreparedStage } from '../../node-runtime/stage-prepare.ts';
import { StageLedger, type ClaimOutcome } from '../../node-runtime/ledger.ts';
import type { CommitOutcome, DeviceServices, ResultCommit } from '../../node-runtime/services.ts';
import { seededUniform } from '../../node-runtime/data-sources.ts';
import { predictNamed, taskGraphOf, type LoadedModel } from '../../models/index.ts';
import { resolveDevicePower } from '../../power/presets.ts';
import { Assignment, JobPlan, JobStatus, PlannerStatus, StageInput, StageStatus, type JobPlanInit, type JobResult, type StageReport } from '../../schemas/generated/edgeweave.ts';
import { decodeTensor, encodeTensor, maxDeviation, type TensorData } from '../../schemas/tensor-codec.ts';
import { filters, topics } from '../../schemas/topics.ts';
import { generatePlannerKeys, signCapability } from '../../schemas/capability.ts';
import { CACHE_DIR } from '../support/models-fixtures.ts';
import { closeInOrder, pollUntil, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { withTimeout } from '../support/mqtt.ts';

const log = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const WAIT_MS = 20_000;

test('stage book — one preparation per (origin, job, attempt, stage); attempts dropped when told, when superseded, past the count and the idle time', () => {
  let made = 0;
  const book = new StageBook((plan, spec) => {
    made++;
    return { runs: 'here', key: `${plan.jobId}/${plan.attempt}/${spec.stageId}`, plan, spec } as unknown as PreparedStage;
  }, { maxAttempts: 3, maxIdleMs: 1000 });
  const plan = (jobId: string, attempt: number, origin = 'o1'): JobPlan => JobPlan.create({ jobId, attempt, originDevice: origin, stages: [{ stageId: 's0' }, { stageId: 's1' }] });
  const p = plan('j1', 1);
  const first = book.stage(p, p.stages[0]!, 0);
  assert.equal(book.stage(p, p.stages[0]!, 0), first, 'prepared once');
  assert.equal(book.find('o1', 'j1', 1, 's0', 0), first);
  assert.equal(book.find('o2', 'j1', 1, 's0', 0), undefined, 'job ids are unique per origin only');
  book.stage(p, p.stages[1]!, 0);
  assert.equal(made, 2);
  assert.equal(book.compiled, 2);
  assert.equal(book.size, 1, 'one attempt');
  // A newer attempt supersedes the older.
  const p2 = plan('j1', 2);
  book.stage(p2, p2.stages[0]!, 10);
  book.dropOlder('o1', 'j1', 2);
  assert.equal(book.find('o1', 'j1', 1, 's0', 10), undefined);
  assert.ok(book.find('o1', 'j1', 2, 's0', 10));
  book.dropAttempt('o1', 'j1', 2);
  assert.equal(book.size, 0);
  // At most three attempts: the oldest job goes first.
  for (const j of ['a', 'b', 'c', 'd']) book.stage(plan(j, 1), plan(j, 1).stages[0]!, 100);
  assert.equal(book.size, 3);
  assert.equal(book.find('o1', 'a', 1, 's0', 100), undefined);
  // Unused for longer than maxIdleMs: dropped; used since: kept.
  book.find('o1', 'd', 1, 's0', 900);
  book.expire(1500);
  assert.equal(book.size, 1);
  assert.ok(book.find('o1', 'd', 1, 's0', 1500));
});

/** The device side an executor needs: a ledger, and a connection for committed reports and results. */
class TestServices implements DeviceServices {
  readonly ledger = new StageLedger();
  constructor(private readonly transport: Transport) {}
  claim(key: string, workerId: string): Promise<ClaimOutcome> { return Promise.resolve(this.ledger.claim(key, workerId)); }
  complete(key: string): Promise<void> { this.ledger.complete(key); return Promise.resolve(); }
  async commitResult(commit: ResultCommit): Promise<CommitOutcome> {
    if (this.ledger.isDone(commit.key)) return 'duplicate';
    this.ledger.complete(commit.key);
    await this.transport.publish(commit.reportTopic, commit.report, { qos: 1 });
    if (commit.result) await this.transport.publish(commit.resultTopic, commit.result, { qos: 1 });
    return commit.result ? 'sent' : 'suppressed';
  }
  release(key: string): Promise<void> { this.ledger.release(key); return Promise.resolve(); }
  sendDelay(): Promise<number> { return Promise.resolve(0); }
  receiveDelay(): Promise<number> { return Promise.resolve(0); }
  heldInput(): Promise<undefined> { return Promise.resolve(undefined); }
  clockOffsetMs(): number { return 0; }
  clockUncertaintyMs(): number { return -1; }
  stageQueued(): void {}
  stageBusy(): void {}
}

describe('runtime — stages prepared once per assignment', () => {
  const keys = generatePlannerKeys();
  let broker: BrokerHandle | undefined;
  let planner: Transport | undefined;
  let device: Transport | undefined;
  let executor: Executor | undefined;
  let model: LoadedModel;
  let taskIds: string[];
  let outputs: string[];
  const results = new Map<string, (r: JobResult) => void>();
  const reports: StageReport[] = [];
  const camera: TensorData = { dtype: 'float32', shape: [1, 96, 96, 3], values: seededUniform(96 * 96 * 3, 1) };
  const sensor: TensorData = { dtype: 'float32', shape: [1, 64, 6], values: seededUniform(64 * 6, 2) };

  before(async () => {
    broker = await startBroker({ port: 0, wsPort: null, log });
    planner = await Transport.connect({ brokerUrl: broker.url, clientId: 'p1', log });
    device = await Transport.connect({ brokerUrl: broker.url, clientId: 'd1', log });
    await planner.publish(topics.plannerStatus('p1'), PlannerStatus.encode({ plannerId: 'p1', publicKey: keys.publicKeyRaw }), { qos: 1, retain: true });
    await planner.on('jobResult', filters.jobResults('o1'), ({ message }) => results.get(message.jobId)?.(message));
    await planner.on('jobReport', filters.jobReports('o1'), ({ message }) => reports.push(message));
    const host = new ModelHost({ models: ['fusion'], cacheDir: CACHE_DIR, log });
    [model] = await host.loadAll(false) as [LoadedModel];
    const graph = taskGraphOf(model, { fused: true });
    taskIds = graph.tasks.map((t) => t.id);
    outputs = graph.outputs;
    executor = new Executor({
      brokerUrl: broker.url, deviceId: 'd1', workerId: 'w0', modelHost: host, services: new TestServices(device), speed: 1, power: resolveDevicePower({ role: 'edge' }), log,
    });
    await executor.start();
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('runtime-stage-book', [
      ['the executor', executor && (() => executor!.stop())],
      ['the planner connection', planner && (() => planner!.close())],
      ['the device connection', device && (() => device!.close())],
      ['the broker', broker && (() => broker!.close())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  /** One stage on d1 that joins the camera's and the sensor's data (two producers) and ends the job; pinned to w0, as joins are. */
  const planOf = (jobId: string): JobPlanInit => ({
    jobId, attempt: 1, originDevice: 'o1', model: { name: 'fusion' }, fused: true, outputs, topK: 3, plannerId: 'p1',
    stages: [{
      stageId: 's0', deviceId: 'd1', worker: 'w0', taskIds, final: true,
      inputs: [{ tensor: 'camera', fromDevice: 'cam', fromStage: '' }, { tensor: 'sensor', fromDevice: 'imu', fromStage: '' }],
    }],
  });
  const capabilityOf = (jobId: string): Uint8Array => signCapability(keys, 'o1', jobId, 1);
  const assign = (jobId: string): Promise<void> => planner!.publish(topics.deviceAssign('d1'), Assignment.encode({
    jobId, attempt: 1, deviceId: 'd1', originDevice: 'o1', plan: planOf(jobId), stageIds: ['s0'], capability: capabilityOf(jobId),
  }), { qos: 1 });
  const send = (jobId: string, from: 'cam' | 'imu', capability = capabilityOf(jobId)): Promise<void> => planner!.publish(topics.workerInbox('d1', 'w0'), StageInput.encode({
    jobId, attempt: 1, stageId: 's0', plan: planOf(jobId), fromDevice: from, fromStage: '', capability, sentAtMs: Date.now(),
    tensors: [from === 'cam' ? encodeTensor(camera, { name: 'camera' }) : encodeTensor(sensor, { name: 'sensor' })],
  }), { qos: 1 });
  const resultOf = (jobId: string): Promise<JobResult> => {
    const result = withTimeout(new Promise<JobResult>((resolve) => results.set(jobId, resolve)), WAIT_MS, `the result of ${jobId}`);
    result.catch(() => undefined); // awaited by the test; a test that failed first leaves it be
    return result;
  };

  test('runtime — a join stage is compiled once per (job, attempt, stage), however many inputs arrive; its output is local predict\'s', async () => {
    const e = executor!;
    const before = e.book.compiled;
    const jobs = ['join-1', 'join-2', 'join-3'];
    for (const jobId of jobs) await assign(jobId);
    await pollUntil(() => e.book.compiled === before + jobs.length, () => `each assignment prepares its stage (compiled ${e.book.compiled - before})`, WAIT_MS);
    const done = jobs.map(resultOf);
    const tensors = tf.memory().numTensors;
    for (const jobId of jobs) {
      await send(jobId, 'cam');
      await send(jobId, 'imu');
    }
    const got = await Promise.all(done);
    for (const r of got) assert.equal(r.status, JobStatus.JOB_STATUS_OK, r.error?.message);
    assert.equal(e.book.compiled, before + jobs.length, 'no input compiled its stage again');
    assert.equal(tf.memory().numTensors, tensors, 'running stages leaves no tensor behind');
    // Same numbers as the whole model in process.
    const feed = { camera: tf.tensor(camera.values, camera.shape), sensor: tf.tensor(sensor.values, sensor.shape) };
    const local = predictNamed(model, feed);
    try {
      const name = outputs[0]!;
      const expected = local[name]!.dataSync();
      const distributed = decodeTensor(got[0]!.outputs.find((t) => t.name === name)!);
      assert.ok(maxDeviation(expected, distributed.values).maxAbs < 1e-5);
    } finally {
      tf.dispose([...Object.values(feed), ...Object.values(local)]);
    }
    // Each attempt's final stage is done: the book holds none of them.
    await pollUntil(() => e.book.size === 0, () => `the book empties (holds ${e.book.size})`, WAIT_MS);
  });

  test('runtime — a stage input that arrives before its assignment prepares the stage once and runs', async () => {
    const e = executor!;
    const before = e.book.compiled;
    const done = resultOf('early');
    await send('early', 'cam');
    await pollUntil(() => e.book.compiled === before + 1, 'the first input prepares its stage', WAIT_MS);
    await send('early', 'imu');
    const r = await done;
    assert.equal(r.status, JobStatus.JOB_STATUS_OK, r.error?.message);
    assert.equal(e.book.compiled, before + 1, 'the second input found the stage prepared');
  });

  test('runtime — a capability is verified once per attempt, and another one for the same attempt is still refused', async () => {
    const e = executor!;
    await assign('forged');
    await pollUntil(() => e.book.find('o1', 'forged', 1, 's0') !== undefined, 'the assignment prepares its stage', WAIT_MS);
    const forged = capabilityOf('forged').slice();
    forged[0] = forged[0]! ^ 0xff;
    await send('forged', 'cam', forged);
    await pollUntil(() => reports.some((r) => r.jobId === 'forged' && r.status === StageStatus.STAGE_STATUS_REJECTED), 'the forged input is refused', WAIT_MS);
    assert.equal(reports.find((r) => r.jobId === 'forged')?.error?.code, 'E_CAPABILITY');
    const done = resultOf('forged');
    await send('forged', 'cam');
    await send('forged', 'imu');
    assert.equal((await done).status, JobStatus.JOB_STATUS_OK);
  });
});
