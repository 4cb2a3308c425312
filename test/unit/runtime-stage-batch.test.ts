import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { BatchGains, DEFAULT_BATCH_POLICY, PROBE_EVERY, countSameStage, splitOutputs, stackInputs, takeSameStage } from '../../node-runtime/stage-batch.ts';
import { RunQueue, plannedStartOf } from '../../node-runtime/run-queue.ts';
import { pino } from 'pino';
import { ModelHost, runStageBatch, runStageOnData } from '../../node-runtime/model-host.ts';
import { prepareStage, type RunnableStage } from '../../node-runtime/stage-prepare.ts';
import { StageRunner, type StageItem } from '../../node-runtime/stage-runner.ts';
import type { DeviceServices } from '../../node-runtime/services.ts';
import { seededUniform } from '../../node-runtime/data-sources.ts';
import { resolveDevicePower } from '../../power/presets.ts';
import { initEngine } from '../../models/index.ts';
import { JobPlan, StageInput } from '../../schemas/generated/edgeweave.ts';
import { encodeTensor, type TensorData } from '../../schemas/tensor-codec.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

const isCode = (code: string) => (e: unknown): boolean => e instanceof EdgeweaveError && e.code === code;

function tensor(shape: number[], from = 0, dtype: TensorData['dtype'] = 'float32'): TensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = dtype === 'uint8' ? new Uint8Array(n) : dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = from + i;
  return { dtype, shape, values };
}

describe('stage batch — grouping', () => {
  const keyOf = (s: string): string | undefined => (s === '-' ? undefined : s.split(':')[0]);

  test('stage batch — takes the items of the same stage, in order, up to the maximum; the rest keeps its order', () => {
    const queue = ['a:2', 'b:1', 'a:3', '-', 'a:4', 'c:1', 'a:5'];
    assert.equal(countSameStage(queue, 'a', keyOf), 4);
    assert.deepEqual(takeSameStage(queue, 'a', keyOf, 3), ['a:2', 'a:3', 'a:4']);
    assert.deepEqual(queue, ['b:1', '-', 'c:1', 'a:5']);
    assert.deepEqual(takeSameStage(queue, 'a', keyOf, 0), []);
    assert.deepEqual(takeSameStage(queue, 'z', keyOf, 8), []);
    assert.deepEqual(queue, ['b:1', '-', 'c:1', 'a:5']);
  });
});

describe('stage batch — whether batching pays', () => {
  test('stage batch — unknown figures: try batching', () => {
    const g = new BatchGains(0.05);
    assert.equal(g.decide('s'), true);
    g.record('s', 1, 10);
    assert.equal(g.paysFor('s'), true, 'batched time not measured yet');
  });

  test('stage batch — batched while its per-item time is at least the margin below the time alone', () => {
    const g = new BatchGains(0.05);
    g.record('s', 1, 10);
    g.record('s', 4, 36); // 9 ms per item: 10 % better
    assert.equal(g.paysFor('s'), true);
    const h = new BatchGains(0.05);
    h.record('s', 1, 10);
    h.record('s', 4, 39); // 9.75 ms per item: within the margin
    assert.equal(h.paysFor('s'), false);
    assert.deepEqual({ ...h.figures('s'), decisions: 0 }, { aloneMs: 10, batchedPerItemMs: 9.75, decisions: 0 });
  });

  test('stage batch — the figures are moving averages: a stage that stops paying is noticed', () => {
    const g = new BatchGains(0.05);
    g.record('s', 1, 10);
    g.record('s', 2, 16);
    assert.equal(g.paysFor('s'), true);
    for (let i = 0; i < 10; i++) g.record('s', 2, 24);
    assert.equal(g.paysFor('s'), false);
    assert.equal(g.paysFor('other'), true, 'per compiled stage');
  });

  test('stage batch — every PROBE_EVERY-th decision goes the other way, so both figures stay measured', () => {
    const g = new BatchGains(0.05);
    g.record('s', 1, 10);
    g.record('s', 2, 30);
    const decisions = Array.from({ length: 2 * PROBE_EVERY }, () => g.decide('s'));
    assert.equal(decisions.filter(Boolean).length, 2);
    assert.equal(decisions[PROBE_EVERY - 1], true);
    assert.equal(decisions[2 * PROBE_EVERY - 1], true);
  });

  test('stage batch — a failed batch stops batching its stage until a probe succeeds', () => {
    const g = new BatchGains(0.05);
    g.failed('s');
    assert.equal(g.paysFor('s'), false);
    g.record('s', 1, 10);
    assert.equal(g.paysFor('s'), false);
    g.record('s', 2, 12);
    assert.equal(g.figures('s')!.batchedPerItemMs, 6, 'a measurement after a failure is taken as it is');
    assert.equal(g.paysFor('s'), true);
  });
});

describe('stage batch — inputs stacked, outputs split per job', () => {
  test('stage batch — stacks along the batch axis and splits back by each item\'s rows', () => {
    const a = new Map([['x', tensor([1, 2, 3], 0)], ['y', tensor([1, 4], 100)]]);
    const b = new Map([['x', tensor([2, 2, 3], 6)], ['y', tensor([2, 4], 104)]]);
    const { inputs, rows } = stackInputs([a, b], ['x', 'y']);
    assert.deepEqual(rows, [1, 2]);
    assert.deepEqual(inputs.get('x')!.shape, [3, 2, 3]);
    assert.deepEqual([...inputs.get('x')!.values], Array.from({ length: 18 }, (_, i) => i));
    assert.deepEqual(inputs.get('y')!.shape, [3, 4]);
    const outputs = splitOutputs(new Map([['z', tensor([3, 5], 0)]]), rows);
    assert.equal(outputs.length, 2);
    assert.deepEqual(outputs[0]!.get('z')!.shape, [1, 5]);
    assert.deepEqual([...outputs[0]!.get('z')!.values], [0, 1, 2, 3, 4]);
    assert.deepEqual(outputs[1]!.get('z')!.shape, [2, 5]);
    assert.deepEqual([...outputs[1]!.get('z')!.values], [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });

  test('stage batch — 8-bit images beside float ones are stacked as float32 of the same values', () => {
    const { inputs } = stackInputs([new Map([['x', tensor([1, 3], 1, 'uint8')]]), new Map([['x', tensor([1, 3], 0.5)]])], ['x']);
    assert.equal(inputs.get('x')!.dtype, 'float32');
    assert.deepEqual([...inputs.get('x')!.values], [1, 2, 3, 0.5, 1.5, 2.5]);
    const same = stackInputs([new Map([['x', tensor([1, 3], 1, 'uint8')]]), new Map([['x', tensor([1, 3], 4, 'uint8')]])], ['x']);
    assert.ok(same.inputs.get('x')!.values instanceof Uint8Array);
  });

  test('stage batch — refuses what cannot be stacked or split', () => {
    assert.throws(() => stackInputs([new Map([['x', tensor([1, 3])]]), new Map([['x', tensor([1, 4])]])], ['x']), isCode('E_TENSOR'));
    assert.throws(() => stackInputs([new Map([['x', tensor([1, 3])]]), new Map()], ['x']), isCode('E_STAGE'));
    assert.throws(() => stackInputs([new Map([['x', tensor([1, 3])], ['y', tensor([2, 3])]])], ['x', 'y']), isCode('E_TENSOR'));
    assert.throws(() => splitOutputs(new Map([['z', tensor([1, 5])]]), [1, 1]), isCode('E_TENSOR'));
  });
});

describe('stage batch — one predict for several jobs', () => {
  const host = new ModelHost({ models: ['chain'] });
  const power = resolveDevicePower({ role: 'edge' });
  const services = {
    clockOffsetMs: () => 0, clockUncertaintyMs: () => 0, stageBusy: () => undefined,
  } as unknown as DeviceServices;

  before(async () => {
    await initEngine();
    await host.loadAll(false);
  });

  /** The middle stage of `chain` (flatten, dropout) of job `jobId`, prepared as an executor would. */
  function middleStage(jobId: string): RunnableStage {
    const plan = JobPlan.decode(JobPlan.encode({
      jobId, attempt: 1, originDevice: 'car1', model: { name: 'chain' }, fused: true, outputs: ['predictions'],
      stages: [{
        stageId: 's1', deviceId: 'edge1', taskIds: ['flatten', 'dropout'], inputs: [{ tensor: 'pool1', fromStage: 's0', fromDevice: 'car1' }],
        outputs: [{ tensor: 'dropout', toDevice: 'cloud1', toStage: 's2' }],
      }],
    }));
    const prepared = prepareStage(plan, plan.stages[0]!, { deviceId: 'edge1', workerId: 'w0' }, (p, taskIds) => host.compile(p, taskIds));
    assert.equal(prepared.runs, 'here');
    return prepared as RunnableStage;
  }

  function item(jobId: string, pool1: TensorData, readyAtMs: number): StageItem {
    const message = StageInput.decode(StageInput.encode({ jobId, attempt: 1, stageId: 's1', fromStage: 's0', fromDevice: 'car1', tensors: [encodeTensor(pool1, { name: 'pool1' })] }));
    const part = { message, arrivedAtMs: readyAtMs, bytes: 1000, downMs: 0, ack: () => undefined };
    return { stage: middleStage(jobId), join: { key: jobId, parts: [part], firstArrivalMs: readyAtMs, readyAtMs } };
  }

  const pool1 = (seed: number): TensorData => ({ dtype: 'float32', shape: [1, 16, 16, 16], values: seededUniform(16 * 16 * 16, seed) });

  test('stage batch — runStageBatch gives each job what it gets alone, and leaks no tensor', () => {
    const stage = middleStage('j').compiled;
    assert.ok(stage.ok);
    const jobs = [1, 2, 3].map((s) => new Map([['pool1', pool1(s)]]));
    runStageBatch(stage.stage, jobs);
    const before = tf.memory().numTensors;
    const batched = runStageBatch(stage.stage, jobs);
    assert.equal(tf.memory().numTensors, before);
    jobs.forEach((inputs, k) => {
      const alone = runStageOnData(stage.stage, inputs).get('dropout')!;
      const got = batched[k]!.get('dropout')!;
      assert.deepEqual(got.shape, [1, 64]);
      for (let i = 0; i < alone.values.length; i++) assert.ok(Math.abs(alone.values[i]! - got.values[i]!) <= 1e-5);
    });
  });

  test('stage batch — each job keeps its own wait and outputs; compute time is the batch\'s, energy its share', async () => {
    const runner = new StageRunner({ deviceId: 'edge1', workerId: 'w0', services, speed: 1, power, limits: { maxElements: 2 ** 24, requireFinite: true } });
    const now = Date.now();
    const items = [item('j1', pool1(1), now - 30), item('j2', pool1(2), now - 10), item('j3', pool1(3), now - 20)];
    const ran = await runner.runBatch(items);
    assert.equal(ran.fellBack, false);
    assert.equal(ran.batch?.size, 3);
    assert.ok(ran.batch.hostMs > 0);
    const runs = ran.items.map((r) => {
      assert.ok(r.ok);
      return r.run;
    });
    const [a, b, c] = runs.map((r) => r.timing);
    assert.equal(a!.startAtMs, b!.startAtMs);
    assert.equal(a!.computeMs, c!.computeMs);
    assert.ok(a!.waitMs! > b!.waitMs!, 'its own wait: j1 was ready first');
    assert.ok(Math.abs(a!.computeEnergyJ! * 3 - (power.busyW * a!.computeMs!) / 1000) < 1e-9, 'a third of the batch\'s energy');
    runs.forEach((r, k) => {
      const alone = runStageOnData((items[k]!.stage.compiled as { ok: true; stage: Parameters<typeof runStageOnData>[0] }).stage, new Map([['pool1', pool1(k + 1)]]));
      const got = r.outputs.get('dropout')!.values;
      alone.get('dropout')!.values.forEach((v, i) => assert.ok(Math.abs(v - got[i]!) <= 1e-5));
    });
  });

  test('stage runner — inputs decoded ahead are the ones run, and what cannot be decoded fails its run', async () => {
    const runner = new StageRunner({ deviceId: 'edge1', workerId: 'w0', services, speed: 1, power, limits: { maxElements: 2 ** 24, requireFinite: true } });
    const good = item('j1', pool1(1), Date.now());
    const nan: TensorData = { dtype: 'float32', shape: [1, 16, 16, 16], values: new Float32Array(16 * 16 * 16).fill(Number.NaN) };
    const bad = item('j2', nan, Date.now());
    runner.decodeAhead(good);
    runner.decodeAhead(bad);
    // The message the good job came in is emptied: its run can only use what was decoded ahead.
    good.join.parts[0]!.message.tensors = [];
    const ran = await runner.runBatch([good, bad]);
    assert.deepEqual(ran.items.map((r) => r.ok), [true, false]);
    const alone = runStageOnData((good.stage.compiled as { ok: true; stage: Parameters<typeof runStageOnData>[0] }).stage, new Map([['pool1', pool1(1)]]));
    const got = (ran.items[0] as { ok: true; run: { outputs: Map<string, TensorData> } }).run.outputs.get('dropout')!.values;
    alone.get('dropout')!.values.forEach((v, i) => assert.ok(Math.abs(v - got[i]!) <= 1e-5));
  });

  test('stage batch — a bad job fails alone: the batch runs again one by one', async () => {
    const runner = new StageRunner({ deviceId: 'edge1', workerId: 'w0', services, speed: 1, power, limits: { maxElements: 2 ** 24, requireFinite: true } });
    const bad: TensorData = { dtype: 'float32', shape: [1, 8, 16, 16], values: seededUniform(8 * 16 * 16, 9) };
    const ran = await runner.runBatch([item('j1', pool1(1), Date.now()), item('j2', bad, Date.now()), item('j3', pool1(3), Date.now())]);
    assert.equal(ran.fellBack, true);
    assert.equal(ran.batch, undefined);
    assert.deepEqual(ran.items.map((r) => r.ok), [true, false, true]);
    assert.ok(ran.items.every((r) => !r.ok || r.run.timing.computeEnergyJ === (power.busyW * r.run.timing.computeMs!) / 1000), 'run alone: their whole energy');
  });
});

describe('run queue — the plans\' order', () => {
  /** A stage of job `id` planned to start `startMs` after a submission at 1000 (reference clock); none: no prediction. */
  function planned(id: string, startMs: number | undefined, readyAtMs = 0): StageItem {
    return {
      stage: { key: id, plan: { submittedAtMs: startMs === undefined ? 0 : 1000 }, spec: startMs === undefined ? {} : { predicted: { startMs } }, compiled: { ok: false, error: new Error('not run') } },
      join: { key: id, parts: [], firstArrivalMs: readyAtMs, readyAtMs },
    } as unknown as StageItem;
  }

  test('run queue — stages run in planned order, whatever order they came in; one without a prediction by when it became ready', async () => {
    const ran: string[] = [];
    let release!: () => void;
    const first = new Promise<void>((r) => { release = r; });
    const queue = new RunQueue({
      policy: { ...DEFAULT_BATCH_POLICY, maxBatch: 1 },
      run: async (items) => {
        ran.push(items[0]!.stage.key);
        if (ran.length === 1) await first;
        return undefined;
      },
      queued: () => undefined,
      clockOffsetMs: () => 0,
      log: pino({ level: 'silent' }),
    });
    queue.push(planned('a', 0));
    // While a runs, they come in out of their planned order.
    queue.push(planned('late', 300));
    queue.push(planned('early', 100));
    queue.push(planned('unplanned', undefined, 1200));
    queue.push(planned('middle', 150));
    release();
    await queue.stop();
    assert.deepEqual(ran, ['a', 'early', 'middle', 'unplanned', 'late']);
    assert.equal(plannedStartOf(planned('x', 100), 0), 1100);
    assert.equal(plannedStartOf(planned('y', undefined, 50), 20), 70, 'ready time on the reference clock');
  });
});

