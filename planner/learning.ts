/**
 * What a planner learns from the stage reports of the jobs it planned: each device's speed
 * against its profile, link speeds from measured single-producer transfers (DeviceRegistry),
 * its own dispatch delay — the time from receiving a job to its first stage being told to
 * start — added to every prediction, and how often admitted jobs miss their deadlines (the
 * margin a deadline is judged with).
 */
import type { DeviceRegistry } from './device-registry.ts';
import { spentMs, type JobRecord } from './job-book.ts';
import type { StageReport, StageSpec, StageTiming } from '../schemas/generated/edgeweave.ts';

/** The dispatch delay assumed before any job measured it. */
const INITIAL_DISPATCH_MS = 5;

/**
 * Jobs with a deadline are admitted with a share of their predicted latency to spare, tuned so
 * that about this share of the admitted ones miss their deadline: each miss widens the margin
 * by SPARE_STEP, each job in time narrows it by SPARE_STEP x MISS_TARGET / (1 - MISS_TARGET).
 */
const MISS_TARGET = 0.005;
const SPARE_STEP = 0.1;
const SPARE_MAX = 3;

export class PlannerLearning {
  private dispatch = INITIAL_DISPATCH_MS;
  /** The share of a deadline job's predicted latency kept to spare when it is admitted. */
  private spare = 0;

  constructor(private readonly registry: DeviceRegistry) {}

  /**
   * A job's first attempt ended OK, its result seen here at `arrivedAtMs`. A job with a
   * deadline shows whether admitted jobs keep theirs (from its submission, on the reference
   * clock when its origin sent the time): the margin widens on a miss, narrows on a job in time.
   */
  fromResult(job: JobRecord, arrivedAtMs: number): void {
    const deadlineMs = job.request.objective?.deadlineMs ?? 0;
    if (deadlineMs <= 0 || job.attemptsPlanned !== 1) return;
    // The result seen here has yet to reach its origin: as long as the plan gave that (its last
    // stage's end to the predicted latency's), or the origin would see misses this planner did not.
    const lastStageEnd = Math.max(0, ...job.plan.stages.map((st) => st.predicted?.finishMs ?? 0));
    const toOriginMs = Math.max(0, job.plan.predictedLatencyMs - lastStageEnd);
    const tookMs = spentMs(job, arrivedAtMs) + toOriginMs;
    const step = tookMs > deadlineMs ? SPARE_STEP : -SPARE_STEP * MISS_TARGET / (1 - MISS_TARGET);
    this.spare = Math.min(SPARE_MAX, Math.max(0, this.spare + step));
  }

  /**
   * The share of its predicted latency a job with a deadline is admitted with to spare. On an
   * idle fleet predictions hold and it stays near nothing; on a loaded one jobs run later than
   * predicted — the later, the longer the queues they were planned behind — and it widens until
   * no more than about one admitted job in two hundred misses its deadline.
   */
  get spareShare(): number {
    return this.spare;
  }

  /** Learned time from receiving a job to its first stage being told to start (ms). */
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

  /**
   * A first stage of a first attempt that reads data its own device holds shows how long
   * dispatching took: it is ready when the planner's word to start reaches it. Its start is
   * not used (a stage may wait in its device's queue, the queue's to predict), nor stages fed
   * over a link (the link's to predict).
   */
  private learnDispatch(job: JobRecord, timing: StageTiming): void {
    const stage = job.plan.stages.find((s) => s.stageId === timing.stageId);
    if (!stage || !timing.predicted || job.attemptsPlanned > 1) return;
    if (stage.inputs.length === 0 || stage.inputs.some((i) => i.fromStage !== '' || i.fromDevice !== stage.deviceId)) return;
    const late = timing.readyAtMs - job.plan.submittedAtMs - (timing.predicted.readyMs - job.dispatchMs);
    if (!Number.isFinite(late) || late < 0 || late > 10_000) return;
    this.dispatch = 0.7 * this.dispatch + 0.3 * late;
  }
}
