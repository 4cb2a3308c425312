import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { closed, connectClient, subscribe, type TestClient } from '../support/mqtt.ts';
import { censusSummary, resultCensus } from '../support/results.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import type { JobOutcome } from '../../node-runtime/client.ts';
import {
  DeviceStatus, DeviceProfile, JobRequest, JobResult, JobPlan, StageInput, StageReport, Assignment, PlannerStatus, ClockPong, ClockPing,
  DType, Encoding, JobStatus, StageStatus, DeviceState, type JobPlanInit,
} from '../../schemas/generated/edgeweave.ts';
import { topics, filters, parseTopic } from '../../schemas/topics.ts';
import { generatePlannerKeys, signCapability } from '../../schemas/capability.ts';

const STORM = 10_000;
const MAX_PAYLOAD = 256 * 1024;

/** A seeded PRNG: the storm is the same every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

describe('faults — a storm of malformed messages', () => {
  let cluster: Cluster;
  let fuzzer: TestClient;
  let watcher: TestClient;
  const records: Array<Record<string, unknown>> = [];
  const keys = generatePlannerKeys();

  before(async () => {
    const log = pino({ level: 'debug' }, { write: (line: string) => { records.push(JSON.parse(line) as Record<string, unknown>); } });
    cluster = await startCluster({
      log, plannerKeys: keys, maxPayloadBytes: MAX_PAYLOAD,
      devices: [{ id: 'car1', role: 'iot', models: ['chain'] }, { id: 'edge1', role: 'edge', models: ['chain'] }],
    });
    await cluster.ready();
    fuzzer = await connectClient(cluster.brokerUrl, { clientId: 'fuzzer' });
    watcher = await connectClient(cluster.brokerUrl, { clientId: 'fuzz-watcher' });
    await subscribe(watcher.client, [filters.jobResults('car1'), filters.jobReports('car1'), filters.jobResults('fuzz'), filters.jobReports('fuzz')], 1);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('faults-fuzz', [
      ['the fuzzer', fuzzer && (() => fuzzer.client.endAsync(true))],
      ['the watcher', watcher && (() => watcher.client.endAsync(true))],
      ['the cluster', cluster && (() => cluster.close()), 70_000],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('faults — every malformed message is refused with a typed error; real jobs keep running during and after', async (t) => {
    const graph = await getTaskGraph('chain', { fused: true });
    const inputs = await buildJobInputs(graph, ['random:1']);
    const client = await cluster.client('car1');
    // A real job gives a real plan to build convincing bad stage inputs from.
    const real = await client.submit({ jobId: 'template', model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 20_000 });
    assert.equal(real.result.status, JobStatus.JOB_STATUS_OK);
    const plan = real.plan!;
    const edgeStage = plan.stages.find((s) => s.deviceId === 'edge1')!;
    const tensorName = edgeStage.inputs[0]!.tensor;
    const rand = prng(20261128);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const rssBefore = process.memoryUsage().rss;

    // A stage input the executor will take as far as its tensors (the capability is valid).
    const badInput = (i: number, tensor: Record<string, unknown>, planOverride: Partial<JobPlanInit> = {}): Uint8Array => {
      const jobId = `fuzz-${i}`;
      const p: JobPlanInit = { ...plan, jobId, attempt: 1, ...planOverride };
      return StageInput.encode({ jobId, attempt: 1, stageId: edgeStage.stageId, plan: p, fromDevice: 'car1', fromStage: edgeStage.inputs[0]!.fromStage, capability: signCapability(keys, 'car1', jobId, 1), tensors: [{ name: tensorName, ...tensor }] });
    };
    const validMessages: Uint8Array[] = [
      DeviceStatus.encode({ deviceId: 'edge1', state: DeviceState.DEVICE_STATE_ONLINE }),
      JobRequest.encode({ jobId: 'x', originDevice: 'car1', model: { name: 'chain' } }),
      JobResult.encode({ jobId: 'x', status: JobStatus.JOB_STATUS_OK }),
      JobPlan.encode(plan), Assignment.encode({ jobId: 'x', attempt: 1 }), StageReport.encode({ jobId: 'x' }),
      PlannerStatus.encode({ plannerId: 'p1', publicKey: new Uint8Array(32) }), ClockPong.encode({ seq: 1 }), ClockPing.encode({ seq: 1 }),
      DeviceProfile.encode({ deviceId: 'edge1', models: [{ model: { name: 'chain' }, tasks: [{ taskId: 'a', latencyMs: -5 }] }] }),
    ];
    const readTopics = [
      topics.deviceStatus('edge1'), topics.deviceStatus('ghost'), topics.deviceProfile('edge1'), topics.deviceAssign('edge1'), topics.deviceAssign('car1'),
      topics.deviceInbox('edge1'), topics.deviceInbox('car1'), topics.workerInbox('edge1', 'w0'), topics.jobSubmit('car1'), topics.jobSubmit('fuzz'),
      topics.jobReport('car1', 'template'), topics.jobResult('car1', 'nobody'), topics.clockPing('car1'), topics.clockPong('car1'), topics.plannerStatus('pX'),
    ];
    const cyclic = [{ id: 'a', kind: 'Dense', preds: ['b'], succs: ['b'] }, { id: 'b', kind: 'Dense', preds: ['a'], succs: ['a'] }];
    const dangling = [{ id: 'a', kind: 'InputLayer', preds: [], succs: ['b'] }, { id: 'b', kind: 'Dense', preds: ['a', 'nowhere'], succs: [] }];

    const kinds = { random: 0, truncated: 0, wrongType: 0, tensor: 0, job: 0 };
    const storm = async (): Promise<void> => {
      for (let i = 0; i < STORM; i++) {
        const r = rand();
        let topic: string;
        let payload: Uint8Array;
        if (r < 0.3) {
          kinds.random++;
          topic = pick(readTopics);
          payload = bytes(Math.floor(rand() * 300));
        } else if (r < 0.45) {
          kinds.truncated++;
          topic = pick(readTopics);
          const whole = pick(validMessages);
          payload = whole.subarray(0, Math.max(1, Math.floor(rand() * whole.byteLength)));
        } else if (r < 0.6) {
          kinds.wrongType++;
          topic = pick(readTopics);
          payload = pick(validMessages);
        } else if (r < 0.85) {
          kinds.tensor++;
          topic = topics.deviceInbox('edge1');
          const v = Math.floor(rand() * 6);
          const f32 = (n: number, fill: number): Uint8Array => new Uint8Array(new Float32Array(n).fill(fill).buffer);
          payload =
            v === 0 ? badInput(i, { dtype: DType.DTYPE_FLOAT32, shape: [1, 16], data: f32(3, 1) }) // bytes disagree with shape
            : v === 1 ? badInput(i, { dtype: DType.DTYPE_FLOAT32, shape: [100000, 100000, 1000], data: f32(4, 1) }) // billions of elements
            : v === 2 ? badInput(i, { dtype: DType.DTYPE_FLOAT32, shape: [1, 4], data: f32(4, Number.NaN) }) // NaN
            : v === 3 ? badInput(i, { dtype: DType.DTYPE_FLOAT32, shape: [1, 4], data: f32(4, Number.POSITIVE_INFINITY) }) // Inf
            : v === 4 ? badInput(i, { dtype: DType.DTYPE_FLOAT32, shape: [1, 4], data: f32(4, 0) }, { model: { name: 'no-such-model' } }) // unknown model
            : badInput(i, { dtype: 77, shape: [1], data: new Uint8Array(4), encoding: Encoding.ENCODING_RAW }); // unknown dtype
        } else {
          kinds.job++;
          topic = topics.jobSubmit('fuzz');
          const v = Math.floor(rand() * 5);
          const jobId = `fuzzjob-${i}`;
          payload =
            v === 0 ? JobRequest.encode({ jobId, originDevice: 'fuzz', model: { name: 'chain' }, tasks: cyclic })
            : v === 1 ? JobRequest.encode({ jobId, originDevice: 'fuzz', model: { name: 'chain' }, tasks: dangling })
            : v === 2 ? JobRequest.encode({ jobId, originDevice: 'fuzz', model: { name: 'no-such-model' } })
            : v === 3 ? JobRequest.encode({ jobId, originDevice: 'fuzz', model: { name: 'chain' }, inputs: [{ taskId: 'not-an-input', tensor: { dtype: DType.DTYPE_FLOAT32, shape: [1], data: new Uint8Array(4) } }] })
            : JobRequest.encode({ jobId, originDevice: 'somebody-else', model: { name: 'chain' } });
        }
        fuzzer.client.publish(topic, Buffer.from(payload), { qos: 0 });
        if (i % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await fuzzer.client.publishAsync('edgeweave/v1/fuzz/done', 'x', { qos: 1 });
    };

    // Real jobs during the storm.
    const during: Array<Promise<JobOutcome>> = [];
    const stormDone = storm();
    for (let k = 0; k < 5; k++) during.push(client.submit({ model: { name: 'chain' }, inputs, fused: true, algorithm: k % 2 ? 'edge' : 'local', timeoutMs: 60_000 }));
    // Oversized payloads: the broker refuses them (closing that publisher), nothing else notices.
    for (let k = 0; k < 3; k++) {
      const big = await connectClient(cluster.brokerUrl, { clientId: `fuzz-big-${k}`, reconnectPeriod: 0 });
      big.client.on('error', () => undefined);
      big.client.publish(topics.deviceInbox('edge1'), Buffer.alloc(MAX_PAYLOAD + 1024), { qos: 0 });
      await closed(big.client, 10_000);
      big.client.end(true);
    }
    await stormDone;
    const realOutcomes: JobOutcome[] = [real, ...await Promise.all(during)];
    for (const o of realOutcomes.slice(1)) assert.equal(o.result.status, JobStatus.JOB_STATUS_OK, `during the storm: ${o.result.error?.message}`);

    // After the storm: still serving.
    for (let k = 0; k < 3; k++) {
      const o = await client.submit({ model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 30_000 });
      assert.equal(o.result.status, JobStatus.JOB_STATUS_OK, `after the storm: ${o.result.error?.code} ${o.result.error?.message}`);
      realOutcomes.push(o);
    }
    // The real jobs' results on the wire (the storm also put garbage on car1's result topics: left out).
    const realIds = new Set(realOutcomes.map((o) => o.result.jobId));
    const realResults = (ms: typeof watcher.inbox.messages): typeof ms => ms.filter((m) => {
      const topic = parseTopic(m.topic);
      return topic?.kind === 'jobResult' && topic.originId === 'car1' && realIds.has(topic.jobId);
    });
    await watcher.inbox.waitUntil((ms) => resultCensus(realResults(ms)).jobs === realIds.size, () => `an OK result of each of the ${realIds.size} real jobs at the watcher (${censusSummary(resultCensus(realResults(watcher.inbox.messages)))})`, 10_000);
    t.diagnostic(`superseded results: ${resultCensus(realResults(watcher.inbox.messages)).superseded}`);
    // Every kind of malformed message was sent many times.
    for (const [kind, n] of Object.entries(kinds)) assert.ok(n > 500, `${kind}: ${n}`);
    // Refusals are logged with typed codes, in the numbers sent.
    const coded = (code: string): number => records.filter((r) => r['code'] === code || (r['err'] as { code?: string } | undefined)?.code === code).length;
    for (const code of ['E_DECODE', 'E_TENSOR', 'E_MODEL_NOT_FOUND', 'E_BAD_DAG']) assert.ok(coded(code) > 50, `${code} logged ${coded(code)} times`);
    assert.ok(coded('E_PAYLOAD_TOO_LARGE') >= 1, 'oversized publishes refused');
    // Bad stage inputs that name a job got an error report; bad jobs got a result with the reason.
    await watcher.inbox.waitUntil((ms) => ms.filter((m) => m.topic.includes('/fuzz/') && m.topic.endsWith('/result')).length > 300, 'results for the bad jobs', 20_000);
    const jobResults = watcher.inbox.messages.filter((m) => m.topic.includes('/fuzz/') && m.topic.endsWith('/result')).map((m) => JobResult.decode(m.payload)).filter((r) => r.jobId.startsWith('fuzzjob-'));
    assert.ok(jobResults.every((r) => r.status === JobStatus.JOB_STATUS_REJECTED && r.error?.code), 'every bad job was rejected with a code');
    assert.ok(jobResults.some((r) => r.error?.code === 'E_BAD_DAG') && jobResults.some((r) => r.error?.code === 'E_MODEL_NOT_FOUND') && jobResults.some((r) => r.error?.code === 'E_INPUT'),
      `cyclic, unknown-model and bad-input jobs each refused with their code (codes seen: ${[...new Set(jobResults.map((r) => r.error?.code))].join(', ')})`);
    const tryDecode = (payload: Buffer): StageReport | undefined => { try { return StageReport.decode(payload); } catch { return undefined; } };
    const failedStages = watcher.inbox.messages.filter((m) => m.topic.endsWith('/report')).flatMap((m) => tryDecode(m.payload) ?? [])
      .filter((r) => r.jobId.startsWith('fuzz-') && (r.status === StageStatus.STAGE_STATUS_FAILED || r.status === StageStatus.STAGE_STATUS_REJECTED));
    assert.ok(failedStages.length > 500 && failedStages.every((r) => r.error?.code), `${failedStages.length} error reports for named jobs`);
    // Memory stays bounded.
    const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    assert.ok(grownMiB < 400, `memory grew by ${grownMiB.toFixed(0)} MiB`);
    // The planner did not take a phantom device from garbage statuses.
    assert.deepEqual(cluster.planners[0]!.registry.aliveIds(Date.now()).sort(), ['car1', 'edge1']);
  });
});
