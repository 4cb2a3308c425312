/**
 * Where a stage's work goes once computed: its outputs to the stages that take them (with the
 * uplink time and energy of each message), its report to the job's observers, and, at a final
 * stage, the job result, committed through the device so that it leaves once. Also the stage
 * reports of inputs refused or stages that failed.
 */
import type { Logger } from 'pino';
import type { Transport } from '../transport/mqtt-transport.ts';
import { radioLegEnergyJ } from '../power/energy.ts';
import type { DevicePower } from '../power/types.ts';
import {
  StageInput, StageReport, JobResult, Encoding, StageStatus, type JobPlan, type StageTiming, type StageTimingInit, type TensorInit,
} from '../schemas/generated/edgeweave.ts';
import { topics, isValidId } from '../schemas/topics.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import { encodeTensor, encodingName, type TensorData } from '../schemas/tensor-codec.ts';
import type { CompleteJoin } from './join-buffer.ts';
import { buildJobResult } from './result.ts';
import type { DeviceServices } from './services.ts';
import type { RunnableStage } from './stage-prepare.ts';
import { sleep } from './stage-runner.ts';

export interface StageOutputOptions {
  deviceId: string;
  workerId: string;
  transport: Transport;
  services: DeviceServices;
  power: DevicePower;
  /** Keeps a promise until it settles (the executor drains them when it stops). */
  track: (p: Promise<unknown>) => void;
  log: Logger;
}

/** The job and attempt a report is about. */
type ReportedJob = Pick<JobPlan, 'originDevice' | 'jobId' | 'attempt'>;

export class StageOutput {
  constructor(private readonly options: StageOutputOptions) {}

  /**
   * Sends a stage's outputs on, then records it done. Outputs to other stages may go out twice
   * (a worker killed before recording the stage done); their receivers run each stage once. A
   * final stage's result and report are committed in the device instead, which sends them: a
   * result goes out once, whoever dies when. Resolves once the broker has the outputs.
   */
  async finish(stage: RunnableStage, join: CompleteJoin, outputs: Map<string, TensorData>, timing: StageTimingInit, upstream: StageTiming[], superseded: () => boolean): Promise<void> {
    const { plan, spec, key } = stage;
    const services = this.options.services;
    const { timing: finalTiming, trace } = await this.sendOutputs(stage, join, outputs, timing, upstream);
    const report = this.reportMessage(plan, spec.stageId, StageStatus.STAGE_STATUS_OK, finalTiming);
    if (!spec.final) {
      this.publishReport(stage.reportTopic, report);
      await services.complete(key);
      return;
    }
    if (stage.reportTopic === undefined || stage.resultTopic === undefined) {
      throw new EdgeweaveError('E_TOPIC', `the plan names no valid origin and job (${JSON.stringify(plan.originDevice)}, ${JSON.stringify(plan.jobId)}) to send the result to`);
    }
    let result: Uint8Array | undefined;
    if (superseded()) {
      // A newer attempt of the job is under way: its result will be the one.
      this.options.log.info({ jobId: plan.jobId, attempt: plan.attempt }, 'result of a superseded attempt not sent');
    } else {
      result = await this.resultMessage(stage, outputs, trace, capabilityOf(join));
    }
    const outcome = await services.commitResult({
      key, job: stage.job, attempt: plan.attempt, reportTopic: stage.reportTopic, report,
      resultTopic: stage.resultTopic, ...(result ? { result } : {}), resend: plan.resendResult,
    });
    this.options.log.debug({ jobId: plan.jobId, stageId: spec.stageId, outcome }, 'result committed');
  }

  /** Publishes a stage report (a refusal, a duplicate, a failure); a plan naming no valid origin or job has nobody to report to. */
  report(job: ReportedJob, stageId: string, status: StageStatus, error?: EdgeweaveError): void {
    if (!isValidId(job.originDevice) || !isValidId(job.jobId)) return;
    this.publishReport(topics.jobReport(job.originDevice, job.jobId), this.reportMessage(job, stageId, status, undefined, error));
  }

  /** Sends the stage's outputs to the stages that take them; resolves when the broker has them all. */
  private async sendOutputs(
    stage: RunnableStage, join: CompleteJoin, outputs: Map<string, TensorData>, timing: StageTimingInit, upstream: StageTiming[],
  ): Promise<{ timing: StageTimingInit; trace: StageTimingInit[] }> {
    const o = this.options;
    const { plan, spec, routes } = stage;
    if (routes instanceof EdgeweaveError) throw routes;
    if (routes.length === 0) {
      const finalTiming: StageTimingInit = { ...timing, radioEnergyJ: timing.radioEnergyJ ?? 0, bytesOut: 0 };
      return { timing: finalTiming, trace: [...upstream, finalTiming] };
    }
    const offset = o.services.clockOffsetMs();
    // Reserve every message's uplink first, so their energy is known before the first leaves.
    // A message's size is its tensors plus the plan and trace around them: as large as the
    // envelope of the inputs that came in (no need to encode the plan again), plus this stage's timing.
    const envelope = Math.max(0, ...join.parts.map((p) => p.bytes - p.message.tensors.reduce((s, t) => s + t.data.byteLength, 0))) + 256;
    const sentAtMs = Date.now() + offset;
    const capability = capabilityOf(join);
    let upEnergy = 0;
    let bytesOut = 0;
    const sends: Array<{ topic: string; tensors: TensorInit[]; toStage: string; delayMs: number }> = [];
    for (const route of routes) {
      const tensors = route.tensors.map((r) => {
        const t = outputs.get(r.name);
        if (!t) throw new EdgeweaveError('E_STAGE', `stage ${spec.stageId} did not produce ${r.name} for ${route.toStage}`);
        return encodeTensor(t, { name: r.name, encoding: encodingName(r.encoding), ...quantisationOf(join, r.name, r.encoding) });
      });
      const size = envelope + tensors.reduce((s, t) => s + (t.data?.byteLength ?? 0) + 16, 0);
      const delayMs = route.crosses ? await o.services.sendDelay(size) : 0;
      if (route.crosses) upEnergy += radioLegEnergyJ(o.power.radioModel, 'up', size, delayMs);
      bytesOut += size;
      sends.push({ topic: route.topic, tensors, toStage: route.toStage, delayMs });
    }
    const finalTiming: StageTimingInit = { ...timing, radioEnergyJ: (timing.radioEnergyJ ?? 0) + upEnergy, bytesOut };
    const trace = [...upstream, finalTiming];
    const published = sends.map(({ topic, tensors, toStage, delayMs }) => {
      const payload = StageInput.encode({
        jobId: plan.jobId, attempt: plan.attempt, stageId: toStage, plan, tensors, fromDevice: o.deviceId, fromStage: spec.stageId, sentAtMs, capability, emulatedUpMs: delayMs, trace,
      });
      return sleep(delayMs).then(() => o.transport.publish(topic, payload, { qos: 1 }));
    });
    await Promise.all(published);
    return { timing: finalTiming, trace };
  }

  /** The job result of a final stage, encoded, once it has crossed the emulated uplink. */
  private async resultMessage(stage: RunnableStage, outputs: Map<string, TensorData>, trace: StageTimingInit[], capability: Uint8Array): Promise<Uint8Array> {
    const o = this.options;
    const { plan } = stage;
    if (!stage.compiled.ok) throw stage.compiled.error;
    const result = buildJobResult({ plan, outputs, trace, model: stage.compiled.model, producedBy: o.deviceId, nowRefMs: Date.now() + o.services.clockOffsetMs() });
    const payload = JobResult.encode({ ...result, capability });
    const crosses = plan.originDevice !== o.deviceId;
    const delayMs = crosses ? await o.services.sendDelay(payload.byteLength) : 0;
    await sleep(delayMs);
    return payload;
  }

  private reportMessage(job: ReportedJob, stageId: string, status: StageStatus, timing?: StageTimingInit, error?: EdgeweaveError): Uint8Array {
    const o = this.options;
    return StageReport.encode({
      jobId: job.jobId, attempt: job.attempt, stageId, deviceId: o.deviceId, workerId: o.workerId,
      status, timing: timing ?? null, error: error ? { code: error.code, message: error.message } : null,
      sentAtMs: Date.now() + o.services.clockOffsetMs(),
    });
  }

  private publishReport(topic: string | undefined, payload: Uint8Array): void {
    if (topic === undefined) return;
    this.options.track(this.options.transport.publish(topic, payload, { qos: 1 }).catch((err: unknown) => {
      this.options.log.debug({ err }, 'report not sent');
    }));
  }
}

/**
 * Quantisation to reuse when re-encoding a tensor that arrived as 8-bit pixels: the same
 * scale and zero point keep it exact, where fresh min/max quantisation would not.
 */
function quantisationOf(join: CompleteJoin, name: string, encoding: Encoding): { scale?: number; zeroPoint?: number } {
  if (encoding !== Encoding.ENCODING_UINT8) return {};
  for (const part of join.parts) {
    const t = part.message.tensors.find((x) => x.name === name);
    if (t && t.encoding === Encoding.ENCODING_UINT8) return { scale: t.scale, zeroPoint: t.zeroPoint };
  }
  return {};
}

/** The attempt's capability, as the stage's inputs carried it (forwarded with its outputs and result). */
export function capabilityOf(join: CompleteJoin): Uint8Array {
  return join.parts.find((p) => p.message.capability.byteLength > 0)?.message.capability ?? new Uint8Array(0);
}

/** The traces of every input, each stage once (paths that share an ancestor carry it twice). */
export function mergeTraces(traces: StageTiming[][]): StageTiming[] {
  const seen = new Map<string, StageTiming>();
  for (const trace of traces) for (const t of trace) if (!seen.has(t.stageId)) seen.set(t.stageId, t);
  return [...seen.values()];
}
