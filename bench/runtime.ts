/**
 * Runtime overheads, in one run:
 *  (a) a plan that keeps everything on one device, run through the broker (client -> the
 *      device's local socket -> device -> broker -> planner -> broker -> executor -> broker ->
 *      client, timed around the client's `submit`), against in-process `predict` of the same
 *      model (same process, same engine, one after the other); the ratio of the medians, and
 *      the median of each pair's ratio;
 *  (b) one hop device -> broker -> device for a stage input carrying a 1 KiB and a 4 MiB
 *      tensor: publish, broker, receive, decode (median ms, loopback, embedded broker);
 *  (c) the planner's bytes per job (received and published, as its status counts them) for
 *      each zoo model planned over a car, an edge server and a cloud VM: metadata only.
 */
import * as tf from '@tensorflow/tfjs';
import { pino } from 'pino';
import { startCluster } from '../test/support/cluster.ts';
import { startBroker } from '../broker/index.ts';
import { Transport } from '../transport/mqtt-transport.ts';
import { resolveModel, randomInput, predictNamed } from '../models/index.ts';
import { getTaskGraph } from '../models/task-graph.ts';
import { buildJobInputs } from '../node-runtime/job-inputs.ts';
import { listZooModels } from '../models/zoo/catalog.ts';
import { StageInput, JobStatus } from '../schemas/generated/edgeweave.ts';
import { encodeTensor, decodeTensor } from '../schemas/tensor-codec.ts';
import { topics } from '../schemas/topics.ts';
import type { BenchOptions } from './options.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function overhead(options: BenchOptions): Promise<void> {
  const models = options.quick ? ['mobilenetv2'] : ['vgg16', 'resnet18', 'mobilenetv2'];
  const runs = options.quick ? 5 : 20;
  const warmup = 2;
  const cluster = await startCluster({ devices: [{ id: 'solo', role: 'edge', models, profile: true }] });
  try {
    await cluster.ready(600_000);
    const client = await cluster.client('solo');
    process.stdout.write(`(a) one device, everything local, through the broker vs in-process predict (medians of ${runs} pairs)\n\n`);
    process.stdout.write('model         predict ms  via broker ms  ratio  paired\n');
    for (const name of models) {
      const model = await resolveModel(name);
      const feed = randomInput(model, 1);
      const graph = await getTaskGraph(name, { fused: true });
      const inputs = await buildJobInputs(graph, ['random:1']);
      const predict = (): number => {
        const t0 = performance.now();
        tf.dispose(Object.values(predictNamed(model, feed)));
        return performance.now() - t0;
      };
      // The whole path as the program submitting the job sees it: from the call to the result in hand.
      const viaBroker = async (): Promise<number> => {
        const t0 = performance.now();
        const outcome = await client.submit({ model: { name }, inputs, algorithm: 'local', fused: true, timeoutMs: 120_000 });
        const ms = performance.now() - t0;
        if (outcome.result.status !== JobStatus.JOB_STATUS_OK) throw new Error(`job failed: ${outcome.result.error?.message}`);
        return ms;
      };
      const direct: number[] = [];
      const brokered: number[] = [];
      for (let i = 0; i < runs + warmup; i++) {
        const d = predict();
        const b = await viaBroker();
        if (i < warmup) continue;
        direct.push(d);
        brokered.push(b);
      }
      tf.dispose(Object.values(feed));
      const a = median(direct);
      const b = median(brokered);
      const paired = median(brokered.map((x, i) => x / direct[i]!));
      process.stdout.write(`${name.padEnd(12)}  ${a.toFixed(1).padStart(10)}  ${b.toFixed(1).padStart(13)}  ${(b / a).toFixed(3).padStart(5)}  ${paired.toFixed(3).padStart(6)}\n`);
    }
  } finally {
    await cluster.close();
  }
}

async function oneHop(options: BenchOptions): Promise<void> {
  const log = pino({ level: 'silent' });
  const broker = await startBroker({ port: 0, wsPort: null, log });
  const a = await Transport.connect({ brokerUrl: broker.url, clientId: 'hop-a', log });
  const b = await Transport.connect({ brokerUrl: broker.url, clientId: 'hop-b', log });
  const n = options.quick ? 20 : 200;
  process.stdout.write('\n(b) one hop device -> broker -> device: stage input publish, receive and decode (embedded broker, loopback)\n\n');
  process.stdout.write('tensor     messages  median ms  p90 ms\n');
  try {
    let waiting: ((t: number) => void) | undefined;
    await b.on('deviceInbox', topics.deviceInbox('hop-b'), (m) => {
      decodeTensor(m.message.tensors[0]!);
      m.ack();
      waiting?.(performance.now());
    });
    for (const bytes of [1024, 4 * 1024 * 1024]) {
      const values = new Float32Array(bytes / 4).fill(0.5);
      const times: number[] = [];
      for (let i = 0; i < n + 5; i++) {
        const t0 = performance.now();
        const arrived = new Promise<number>((resolve) => { waiting = resolve; });
        const payload = StageInput.encode({ jobId: 'hop', attempt: 1, stageId: 's1', tensors: [encodeTensor({ dtype: 'float32', shape: [values.length], values }, { name: 't' })] });
        await a.publish(topics.deviceInbox('hop-b'), payload, { qos: 1 });
        const t1 = await arrived;
        if (i >= 5) times.push(t1 - t0);
      }
      const s = [...times].sort((x, y) => x - y);
      process.stdout.write(`${(bytes >= 1 << 20 ? `${bytes >> 20} MiB` : `${bytes >> 10} KiB`).padEnd(9)}  ${String(n).padStart(8)}  ${median(times).toFixed(2).padStart(9)}  ${s[Math.floor(0.9 * (s.length - 1))]!.toFixed(2).padStart(6)}\n`);
    }
  } finally {
    await a.close();
    await b.close();
    await broker.close();
  }
}

async function plannerBytes(options: BenchOptions): Promise<void> {
  const models = options.quick ? ['chain', 'mobilenetv2'] : listZooModels().map((m) => m.name);
  const jobs = options.quick ? 2 : 5;
  process.stdout.write(`\n(c) planner bytes per job (in / out), each zoo model over car1, edge1 and cloud1 (${jobs} jobs each, algorithm auto)\n\n`);
  process.stdout.write('model         input KiB  stages  planner in KiB  planner out KiB\n');
  for (const name of models) {
    const cluster = await startCluster({
      devices: [
        { id: 'car1', role: 'iot', speed: 0.2, link: { upBps: 20e6, downBps: 40e6, rttMs: 10 }, models: [name], profile: false },
        { id: 'edge1', role: 'edge', link: { upBps: 200e6, downBps: 200e6, rttMs: 2 }, models: [name], profile: false },
        { id: 'cloud1', role: 'cloud', speed: 2, link: { upBps: 50e6, downBps: 50e6, rttMs: 40 }, models: [name], profile: false },
      ],
    });
    try {
      await cluster.ready(600_000);
      const client = await cluster.client('car1');
      const inputs = await buildJobInputs(await getTaskGraph(name, { fused: true }), ['random:1']);
      const inputBytes = inputs.reduce((sum, i) => sum + (i.tensor?.data?.byteLength ?? 0), 0);
      const planner = cluster.planners[0]!;
      const before = planner.bytes;
      let stages = 0;
      for (let k = 0; k < jobs; k++) {
        const outcome = await client.submit({ model: { name }, inputs, fused: true, algorithm: 'auto', timeoutMs: 120_000 });
        if (outcome.result.status !== JobStatus.JOB_STATUS_OK) throw new Error(`${name}: job failed: ${outcome.result.error?.message}`);
        stages = outcome.plan?.stages.length ?? 0;
      }
      const after = planner.bytes;
      const kib = (b: number): string => (b / jobs / 1024).toFixed(1);
      process.stdout.write(`${name.padEnd(12)}  ${(inputBytes / 1024).toFixed(0).padStart(9)}  ${String(stages).padStart(6)}  ${kib(after.in - before.in).padStart(14)}  ${kib(after.out - before.out).padStart(15)}\n`);
    } finally {
      await cluster.close();
    }
  }
}

export async function runBench(options: BenchOptions): Promise<void> {
  await overhead(options);
  await oneHop(options);
  await plannerBytes(options);
}
