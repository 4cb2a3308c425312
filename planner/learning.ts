/**
 * What a planner learns from the stage reports of the jobs it planned: each device's speed
 * against its profile, link speeds from measured single-producer transfers (DeviceRegistry),
 * and its own dispatch delay — the time from receiving a job to its first stage starting,
 * added to every prediction.
 */
import type { DeviceRegistry } from './device-registry.ts';
import type { JobRecord } from './job-book.ts';
import type { StageReport, StageSpec, StageTiming } from '../schemas/generated/edgeweave.ts';

/** The dispatch delay assumed before any job measured it. */
const INITIAL_DISPATCH_MS = 5;

export class PlannerLearning {
  private dispatch = INITIAL_DISPATCH_MS;

  constructor(private readonly registry: DeviceRegistry) {}

  /** Learned time from receiving a job to its first stage starting (ms). */
  get dispatchMs(): number {
    return this.dispatch;
  }

  /** A stage of `job`'s current attempt reported OK with its timing. */
  fromReport(job: JobRecord, stage: StageSpec, report: StageReport & { timing: StageTiming }): void {
    this.registry.learnCompute(report.deviceId, report.timing, job.plannedLoad.get(report.deviceId));
    this.learnDispatch(job, report.timing);
    const remote = stage.inputs.filter((i) => i.fromDevice !== report.deviceId && i.fromStage !== '');
    const producers = new Set(remote.map((i) => i.fromStage));
    if (producers.size === 1 && stage.inputs.every((i) => i.fromDevice !== report.deviceId) && report.timing.transferInMs > 0) {
      this.registry.learnTransfer(remote[0]!.fromDevice, report.deviceId, report.timing.bytesIn, report.timing.transferInMs, report.timing.predicted?.transferInMs ?? 0);
    }
  }

  /** A first stage (fed by nobody but the job's inputs) of a first attempt shows how long dispatching took. */
  private learnDispatch(job: JobRecord, timing: StageTiming): void {
    const stage = job.plan.stages.find((s) => s.stageId === timing.stageId);
    if (!stage || stage.inputs.some((i) => i.fromStage !== '') || !timing.predicted || job.attemptsPlanned > 1) return;
    const late = timing.startAtMs - job.plan.submittedAtMs - (timing.predicted.startMs - job.dispatchMs);
    if (!Number.isFinite(late) || late < 0 || late > 10_000) return;
    this.dispatch = 0.7 * this.dispatch + 0.3 * late;
  }
}
