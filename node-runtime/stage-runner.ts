/**
 * Computes a prepared stage on its joined inputs — for one job, or for several jobs of the same
 * compiled stage as one batch: decodes the tensors that came (and loads those this device
 * supplies), runs the compiled stage, holds it for an emulated slower device, and measures it —
 * each job's timing on the reference clock and the energy it took (compute, and the radio
 * receiving its inputs). Sending the outputs on is stage-output.ts's job.
 */
import { radioLegEnergyJ } from '../power/energy.ts';
import type { DevicePower } from '../power/types.ts';
import type { StageTimingInit } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import { decodeTensor, type DecodeLimits, type TensorData } from '../schemas/tensor-codec.ts';
import { loadLocalInput, type DataSources } from './data-sources.ts';
import type { CompleteJoin } from './join-buffer.ts';
import { runStageBatch, runStageOnData } from './model-host.ts';
import type { DeviceServices } from './services.ts';
import type { RunnableStage } from './stage-prepare.ts';
import type { VirtualCompute } from './virtual-compute.ts';

export interface StageRunnerOptions {
  deviceId: string;
  workerId: string;
  services: DeviceServices;
  /** Emulated compute speed against this host (1 = no emulation). */
  speed: number;
  power: DevicePower;
  limits: DecodeLimits;
  dataSources?: DataSources | undefined;
  /** Set for `--compute virtual`: stages take their profiled time and hand on made-up tensors. */
  virtual?: VirtualCompute | undefined;
}

/** What a stage computed: its outputs by name (model outputs passed through included) and its timing. */
export interface StageRun {
  outputs: Map<string, TensorData>;
  timing: StageTimingInit;
}

/** A stage of one job to run, with its joined inputs. */
export interface StageItem {
  stage: RunnableStage;
  join: CompleteJoin;
}

/** One item's outcome: its run, or why it could not run (EdgeweaveError or the engine's error). */
export type ItemRun = { ok: true; run: StageRun } | { ok: false; error: unknown };

/**
 * What running several items of one compiled stage did: each item's outcome, in order, and the
 * size and host time of the batch when they ran as one (undefined when they ran one by one: a
 * single item, virtual compute, or a batch that failed and was run again item by item, `fellBack`).
 */
export interface BatchRun {
  items: ItemRun[];
  batch: { size: number; hostMs: number } | undefined;
  fellBack: boolean;
}

/** An item with its input tensors decoded (and loaded). */
interface ReadyItem extends StageItem {
  tensors: Map<string, TensorData>;
}

/** When and how long a run took: the shared part of its items' timings. */
interface RunClock {
  offset: number;
  startAtMs: number;
  hostMs: number;
  computeMs: number;
  /** Items that ran in the same predict (1: alone). */
  batchSize: number;
}

export class StageRunner {
  /** Inputs decoded ahead of their run (decodeAhead), by join. */
  private readonly decoded = new WeakMap<CompleteJoin, { ok: true; tensors: Map<string, TensorData> } | { ok: false; error: unknown }>();

  constructor(private readonly options: StageRunnerOptions) {}

  /**
   * Runs `items`, all of one compiled stage (stage-batch.ts), as one batch: their inputs stacked,
   * one predict, the outputs split back per item. Each item keeps its own timing: its own ready
   * time and wait, the batch's start and compute time (it waited for all of it), and its share of
   * the batch's compute energy. An item whose inputs cannot be read fails alone; when the batch
   * fails, the items run again one by one, so one bad job does not fail the others. Virtual
   * compute runs items one by one (its profile knows a stage's time alone, not batched).
   */
  async runBatch(items: readonly StageItem[]): Promise<BatchRun> {
    const outcomes: ItemRun[] = new Array<ItemRun>(items.length);
    const ready: Array<{ index: number; item: ReadyItem }> = [];
    items.forEach((item, index) => {
      try {
        ready.push({ index, item: this.ready(item) });
      } catch (error) {
        outcomes[index] = { ok: false, error };
      }
    });
    const one = async ({ index, item }: { index: number; item: ReadyItem }): Promise<void> => {
      try {
        outcomes[index] = { ok: true, run: await this.runOne(item) };
      } catch (error) {
        outcomes[index] = { ok: false, error };
      }
    };
    if (ready.length < 2 || this.options.virtual) {
      for (const r of ready) await one(r);
      return { items: outcomes, batch: undefined, fellBack: false };
    }
    let batch: { runs: StageRun[]; hostMs: number };
    try {
      batch = await this.runMany(ready.map((r) => r.item));
    } catch {
      for (const r of ready) await one(r);
      return { items: outcomes, batch: undefined, fellBack: true };
    }
    ready.forEach((r, k) => { outcomes[r.index] = { ok: true, run: batch.runs[k]! }; });
    return { items: outcomes, batch: { size: ready.length, hostMs: batch.hostMs }, fellBack: false };
  }

  /**
   * Decodes a queued stage's inputs now, while the executor computes others, so its run starts
   * on tensors in hand. What cannot be decoded is kept as the error its run reports.
   */
  decodeAhead(item: StageItem): void {
    const { stage, join } = item;
    if (!stage.compiled.ok || this.decoded.has(join)) return;
    try {
      this.decoded.set(join, { ok: true, tensors: this.collectInputs(stage, join, stage.compiled.stage.shapes) });
    } catch (error) {
      this.decoded.set(join, { ok: false, error });
    }
  }

  private ready(item: StageItem): ReadyItem {
    const { stage, join } = item;
    if (!stage.compiled.ok) throw stage.compiled.error;
    const ahead = this.decoded.get(join);
    if (ahead) {
      this.decoded.delete(join);
      if (!ahead.ok) throw ahead.error;
      return { stage, join, tensors: ahead.tensors };
    }
    return { stage, join, tensors: this.collectInputs(stage, join, stage.compiled.stage.shapes) };
  }

  private async runOne({ stage, join, tensors }: ReadyItem): Promise<StageRun> {
    const o = this.options;
    const services = o.services;
    const offset = services.clockOffsetMs();
    if (!stage.compiled.ok) throw stage.compiled.error;
    const compiled = stage.compiled.stage;
    const virtualMs = o.virtual ? await o.virtual.hostMs(stage.compiled.model.modelHash, stage.plan.fused, stage.spec.taskIds) : undefined;
    const startAtMs = Date.now();
    services.stageBusy(true);
    const t0 = performance.now();
    let outputs: Map<string, TensorData>;
    let hostMs: number;
    if (o.virtual && virtualMs !== undefined) {
      // Virtual compute: the profiled time on this host, at the device's speed; nothing runs.
      try {
        await sleepUntil(t0 + virtualMs / o.speed);
        outputs = o.virtual.outputsOf(compiled, tensors);
      } finally {
        services.stageBusy(false);
      }
      hostMs = virtualMs;
    } else {
      try {
        outputs = runStageOnData(compiled, tensors);
      } finally {
        services.stageBusy(false);
      }
      hostMs = performance.now() - t0;
      await this.hold(hostMs);
    }
    const computeMs = performance.now() - t0;
    return { outputs: withPassThrough(stage, outputs, tensors), timing: this.timing(stage, join, { offset, startAtMs, hostMs, computeMs, batchSize: 1 }) };
  }

  /** Runs ready items of one compiled stage as one batch (real compute). */
  private async runMany(items: readonly ReadyItem[]): Promise<{ runs: StageRun[]; hostMs: number }> {
    const services = this.options.services;
    const first = items[0]!.stage;
    if (!first.compiled.ok) throw first.compiled.error;
    const offset = services.clockOffsetMs();
    const startAtMs = Date.now();
    services.stageBusy(true);
    const t0 = performance.now();
    let outputs: Array<Map<string, TensorData>>;
    try {
      outputs = runStageBatch(first.compiled.stage, items.map((i) => i.tensors));
    } finally {
      services.stageBusy(false);
    }
    const hostMs = performance.now() - t0;
    await this.hold(hostMs);
    const clock: RunClock = { offset, startAtMs, hostMs, computeMs: performance.now() - t0, batchSize: items.length };
    const runs = items.map((item, k) => ({ outputs: withPassThrough(item.stage, outputs[k]!, item.tensors), timing: this.timing(item.stage, item.join, clock) }));
    return { runs, hostMs };
  }

  /** Emulated slowdown: a device `speed` times as fast as this host takes hostMs / speed. */
  private async hold(hostMs: number): Promise<void> {
    const speed = this.options.speed;
    if (speed !== 1) await sleep(hostMs / speed - hostMs);
  }

  /**
   * Tensors the stage needs, by name: those its inputs carry and those this device supplies (a
   * data source of its own, or the data the job's origin handed it).
   */
  private collectInputs(stage: RunnableStage, join: CompleteJoin, shapes: Readonly<Record<string, readonly number[]>>): Map<string, TensorData> {
    const tensors = new Map<string, TensorData>();
    for (const part of join.parts) {
      for (const t of part.message.tensors) tensors.set(t.name, decodeTensor(t, this.options.limits));
    }
    const { plan } = stage;
    for (const local of stage.spec.localInputs) {
      const shape = shapes[local.taskId] ?? [];
      if (local.source !== 'held') {
        tensors.set(local.taskId, loadLocalInput(this.options.dataSources, local.sourceKey, local.taskId, shape));
        continue;
      }
      // Fetched when its trigger was admitted (executor.ts): here it is in hand, or it is not coming.
      const held = join.parts.find((p) => p.held?.has(local.taskId))?.held?.get(local.taskId);
      if (!held) throw new EdgeweaveError('E_INPUT', `the data of input ${local.taskId} of job ${plan.jobId} is not held here: ${plan.originDevice} never handed it over, or it expired`);
      const data = decodeTensor({ ...held, name: local.taskId }, this.options.limits);
      const fits = data.shape.length === shape.length + 1 && shape.every((d, k) => d <= 0 || data.shape[k + 1] === d);
      if (!fits) throw new EdgeweaveError('E_INPUT', `input ${local.taskId} of job ${plan.jobId} has shape [${data.shape.join(', ')}]; the model takes [batch, ${shape.join(', ')}]`);
      tensors.set(local.taskId, data);
    }
    for (const name of stage.required) {
      if (!tensors.has(name)) throw new EdgeweaveError('E_TENSOR', `stage ${stage.spec.stageId} did not receive tensor ${name}`);
    }
    return tensors;
  }

  /**
   * The stage's timing on the reference clock, with the energy its compute and its downlink took.
   * In a batch, its compute time is the batch's and its compute energy its share of the batch's:
   * the job waited for the whole batch, but the device spent that energy once for all its items.
   */
  private timing(stage: RunnableStage, join: CompleteJoin, t: RunClock): StageTimingInit {
    const o = this.options;
    const { offset, startAtMs, hostMs, computeMs, batchSize } = t;
    let latest = join.parts[0]!;
    let bytesIn = 0;
    let downEnergy = 0;
    for (const p of join.parts) {
      if (p.arrivedAtMs > latest.arrivedAtMs) latest = p;
      bytesIn += p.bytes;
      if (p.message.fromDevice !== o.deviceId) downEnergy += radioLegEnergyJ(o.power.radioModel, 'down', p.bytes, p.downMs);
    }
    return {
      stageId: stage.spec.stageId, deviceId: o.deviceId, workerId: o.workerId, taskIds: stage.spec.taskIds,
      firstInputAtMs: join.firstArrivalMs + offset, readyAtMs: join.readyAtMs + offset,
      startAtMs: startAtMs + offset, endAtMs: startAtMs + offset + computeMs,
      waitMs: Math.max(0, startAtMs - join.readyAtMs), computeMs, hostComputeMs: hostMs,
      clockUncertaintyMs: o.services.clockUncertaintyMs(),
      transferInMs: latest.message.fromDevice === o.deviceId ? 0 : Math.max(0, latest.arrivedAtMs + offset - latest.message.sentAtMs),
      bytesIn,
      computeEnergyJ: (o.power.busyW * computeMs) / 1000 / batchSize,
      radioEnergyJ: downEnergy,
      predicted: stage.spec.predicted,
    };
  }
}

/** A stage's outputs with the model outputs it passes through (computed upstream, received in its inputs). */
function withPassThrough(stage: RunnableStage, outputs: Map<string, TensorData>, inputs: ReadonlyMap<string, TensorData>): Map<string, TensorData> {
  for (const name of stage.passThrough) {
    const t = inputs.get(name);
    if (t) outputs.set(name, t);
  }
  return outputs;
}

/** Until `performance.now()` reaches `end`: a timer to within a millisecond, then the rest between event-loop turns. */
async function sleepUntil(end: number): Promise<void> {
  const coarse = end - performance.now() - 1;
  if (coarse > 0) await sleep(coarse);
  while (performance.now() < end) await new Promise((resolve) => setImmediate(resolve));
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
