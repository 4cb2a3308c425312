/**
 * The main job: a broker, a planner and three emulated devices as separate processes — a car
 * (Raspberry Pi 4 class), an edge server and a cloud VM — then jobs from the car for each model
 * under each strategy at each link setting, measured beside the planner's predictions.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { EmulatedSystem, deviceEnergy, placementSummary, type DeviceLaunch } from './system.ts';
import type { Connection } from '../connection.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { summarizeOutcome } from '../../node-runtime/job-summary.ts';
import type { HistoryRecord } from '../../node-runtime/history.ts';
import { localModelArgument } from '../../node-runtime/model-argument.ts';
import { JobStatus } from '../../schemas/generated/edgeweave.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

export interface LinkSetting {
  name: string;
  link: string;
  radio: 'wifi' | 'lte' | '3g';
}

export const DEMO_LINKS: LinkSetting[] = [
  { name: 'wifi', link: 'up=10,down=20,rtt=10', radio: 'wifi' },
  { name: 'lte', link: 'up=4,down=12,rtt=40', radio: 'lte' },
  { name: '3g', link: 'up=1,down=2,rtt=80', radio: '3g' },
];
export const DEMO_MODELS = ['vgg16', 'resnet18', 'mobilenetv2'];
export const DEMO_ALGORITHMS = ['local', 'edge', 'cloud', 'neurosurgeon', 'auto'];

export interface DemoOptions {
  /** An external broker; absent: the embedded broker is started. */
  connection?: Connection;
  quick: boolean;
  dataDir: string;
  models?: string[];
  algorithms?: string[];
  links?: LinkSetting[];
  repeat?: number;
  log: Logger;
  progress?: (done: number, total: number, label: string) => void;
  /** The embedded broker with TLS (a self-signed certificate in <dataDir>/tls/) and a login per process. */
  tls?: boolean;
  /** Called once the broker and the planner are up, before the devices start. */
  onStarted?: (info: { brokerUrl: string; dashboardUrl?: string }) => void;
  /** Resolves when the demo should stop (SIGINT/SIGTERM): jobs under way are given up, everything started is stopped. */
  stop?: Promise<unknown>;
}

export interface DemoRow {
  model: string;
  link: string;
  algorithm: string;
  status: string;
  latencyMs: number;
  predictedMs: number;
  car1EnergyJ: number;
  car1PredictedJ: number;
  speedup: number;
  placement: string;
}

export interface DemoResult {
  startedAt: string;
  brokerUrl: string;
  /** The live dashboard while the demo ran (the embedded broker only). */
  dashboardUrl?: string;
  quick: boolean;
  /** Stopped before the end: the rows are those of the jobs that ran. */
  interrupted: boolean;
  rows: DemoRow[];
  jobs: HistoryRecord[];
  durationS: number;
}

const CAR = 'car1';

const EDGE: DeviceLaunch = { id: 'edge1', role: 'edge', speed: 0.5, link: 'up=200,down=200,rtt=2' };
const CLOUD: DeviceLaunch = { id: 'cloud1', role: 'cloud', speed: 1, link: 'up=50,down=50,rtt=40' };

function carLaunch(link: LinkSetting): DeviceLaunch {
  return { id: CAR, role: 'iot', speed: 0.1, memoryMiB: 1024, power: 'raspberry-pi-4', radio: link.radio, link: link.link };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const log = options.log.child({ component: 'demo' });
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // Zoo names or model.json paths: each read here first, so a bad one fails before anything starts.
  const given = options.models ?? (options.quick ? ['mobilenetv2'] : DEMO_MODELS);
  const resolved = await Promise.all(given.map((m) => localModelArgument(m, { fused: true })));
  const models = resolved.map((m) => m.localPath!);
  const algorithms = options.algorithms ?? DEMO_ALGORITHMS;
  const links = options.links ?? (options.quick ? [DEMO_LINKS[0]!] : DEMO_LINKS);
  const repeat = options.repeat ?? 1;
  let system: EmulatedSystem | undefined;
  // A stop ends every wait at once (for the broker, the planner, devices, a job's result).
  const interrupt = new AbortController();
  const stopped = (): boolean => interrupt.signal.aborted;
  void options.stop?.then(() => {
    log.warn('stopping: no new jobs; the jobs under way are given up');
    interrupt.abort(new EdgeweaveError('E_EXECUTION', 'the demo was stopped'));
    void system?.abortJobs();
  });
  const rows: DemoRow[] = [];
  const jobs: HistoryRecord[] = [];
  try {
    system = await EmulatedSystem.start({
      ...(options.connection ? { connection: options.connection } : { dashboard: true }), dataDir, models, plannerId: 'demo-planner', log, signal: interrupt.signal,
      ...(options.tls === true ? { secure: { devices: [CAR, EDGE.id, CLOUD.id] } } : {}),
    });
    const { conn, dashboardUrl } = system;
    options.onStarted?.({ brokerUrl: conn.brokerUrl, ...(dashboardUrl !== undefined ? { dashboardUrl } : {}) });
    // The car first: it generates the models and profiles this host once; the others reuse the cache.
    await system.startDevices([carLaunch(links[0]!)], `${CAR} (link ${links[0]!.name})`);
    await system.startDevices([EDGE, CLOUD], 'edge1 and cloud1');
    log.info('all devices online');

    const client = await system.client(CAR);
    const total = links.length * models.length * algorithms.length * repeat;
    let done = 0;
    for (const [li, link] of links.entries()) {
      if (stopped()) break;
      if (li > 0) await system.startDevices([carLaunch(link)], `${CAR} (link ${link.name})`);
      for (const { ref, graph, preprocessing } of resolved) {
        const model = graph.modelId;
        const inputs = await buildJobInputs(graph, ['pixels:1'], preprocessing);
        for (const algorithm of algorithms) {
          for (let k = 0; k < repeat && !stopped(); k++) {
            options.progress?.(done, total, `${model} ${link.name} ${algorithm}`);
            const outcome = await client.submit({ model: ref, inputs, algorithm, fused: true, topK: 3, timeoutMs: 180_000 });
            if (stopped()) break;
            const record = summarizeOutcome(outcome, CAR, model, client.originStatus?.power?.idleW);
            jobs.push(record);
            const e = deviceEnergy(record, CAR);
            rows.push({
              model, link: link.name, algorithm, status: record.status, latencyMs: record.latencyMs, predictedMs: record.predictedLatencyMs,
              car1EnergyJ: e.measured, car1PredictedJ: e.predicted, speedup: 0, placement: placementSummary(record),
            });
            if (outcome.result.status !== JobStatus.JOB_STATUS_OK) log.warn({ model, algorithm, link: link.name, error: record.error }, 'demo job failed');
            done++;
          }
        }
      }
    }
    options.progress?.(done, total, stopped() ? 'interrupted' : 'done');
  } catch (err) {
    // A wait ended by the stop: what ran so far is the result.
    if (!stopped()) throw err;
  } finally {
    await system?.close();
  }
  // Speed-up over running locally, per model and link (averaged over repeats).
  for (const r of rows) {
    const local = rows.filter((x) => x.model === r.model && x.link === r.link && x.algorithm === 'local' && x.status === 'ok');
    const localMs = local.reduce((s, x) => s + x.latencyMs, 0) / Math.max(1, local.length);
    r.speedup = r.status === 'ok' && r.latencyMs > 0 && localMs > 0 ? localMs / r.latencyMs : 0;
  }
  const dashboardUrl = system?.dashboardUrl;
  return {
    startedAt: new Date(started).toISOString(), brokerUrl: system?.conn.brokerUrl ?? '', ...(dashboardUrl !== undefined ? { dashboardUrl } : {}),
    quick: options.quick, interrupted: stopped(), rows, jobs, durationS: (Date.now() - started) / 1000,
  };
}
