/**
 * Computes one prepared stage on its joined inputs: decodes the tensors that came (and loads
 * those this device supplies), runs the compiled stage, holds it for an emulated slower device,
 * and measures it — the stage's timing on the reference clock and the energy it took (compute,
 * and the radio receiving its inputs). Sending the outputs on is stage-output.ts's job.
 */
import { radioLegEnergyJ } from '../power/energy.ts';
import type { DevicePower } from '../power/types.ts';
import type { StageTimingInit } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import { decodeTensor, type DecodeLimits, type TensorData } from '../schemas/tensor-codec.ts';
import { loadLocalInput, type DataSources } from './data-sources.ts';
import type { CompleteJoin } from './join-buffer.ts';
import { runStageOnData } from './model-host.ts';
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

export class StageRunner {
  constructor(private readonly options: StageRunnerOptions) {}

  /** Runs `stage` on `join`; throws (EdgeweaveError or the engine's error) when it cannot. */
  async run(stage: RunnableStage, join: CompleteJoin): Promise<StageRun> {
    const o = this.options;
    const services = o.services;
    const offset = services.clockOffsetMs();
    if (!stage.compiled.ok) throw stage.compiled.error;
    const compiled = stage.compiled.stage;
    const tensors = this.collectInputs(stage, join, compiled.shapes);
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
      // Emulated slowdown: a device `speed` times as fast as this host takes hostMs / speed.
      if (o.speed !== 1) await sleep(hostMs / o.speed - hostMs);
    }
    const computeMs = performance.now() - t0;
    for (const name of stage.passThrough) {
      const t = tensors.get(name);
      if (t) outputs.set(name, t);
    }
    return { outputs, timing: this.timing(stage, join, { offset, startAtMs, hostMs, computeMs }) };
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

  /** The stage's timing on the reference clock, with the energy its compute and its downlink took. */
  private timing(stage: RunnableStage, join: CompleteJoin, t: { offset: number; startAtMs: number; hostMs: number; computeMs: number }): StageTimingInit {
    const o = this.options;
    const { offset, startAtMs, hostMs, computeMs } = t;
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
      computeEnergyJ: (o.power.busyW * computeMs) / 1000,
      radioEnergyJ: downEnergy,
      predicted: stage.spec.predicted,
    };
  }
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
