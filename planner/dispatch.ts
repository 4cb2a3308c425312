/**
 * Everything a planner says about a job on the wire, signed with its key: an attempt (the plan
 * to the origin, one assignment per device, the job's first inputs), the cancellation of an
 * attempt, and the results that say why a job did not run (failures, refused submissions).
 */
import type { Logger } from 'pino';
import type { Plan } from './core/types.ts';
import type { DeviceRegistry } from './device-registry.ts';
import type { JobRecord } from './job-book.ts';
import type { Publish } from './options.ts';
import { toWirePlan, initialInputs } from './wire-plan.ts';
import { JobPlan, Assignment, StageInput, JobResult, JobStatus, type JobPlanInit, type JobRequest } from '../schemas/generated/edgeweave.ts';
import { topics, isValidId } from '../schemas/topics.ts';
import { signCapability, type PlannerKeys } from '../schemas/capability.ts';
import type { ErrorCode } from '../schemas/errors.ts';

/** A job id that cannot be a topic level is echoed on jobs/{origin}/rejected up to this long. */
const MAX_REJECTED_ID_CHARS = 200;

/** An attempt ready to send: its wire plan, each device's stages, and the attempt's capability. */
export interface Attempt {
  plan: JobPlan;
  devices: Map<string, string[]>;
  capability: Uint8Array;
}

export class Dispatcher {
  constructor(
    private readonly plannerId: string,
    private readonly keys: PlannerKeys,
    private readonly registry: DeviceRegistry,
    private readonly publish: Publish,
    private readonly log: Logger,
    private readonly planDag = false,
  ) {}

  /** The wire form of a core plan for `job`'s attempt `attempt`, each stage naming its device's incarnation. */
  prepare(job: JobRecord, core: Plan, attempt: number, receivedAtMs: number, localMs: number): Attempt {
    const { request, graph } = job;
    const workers = new Map<string, string[]>();
    for (const id of Object.values(core.placement)) workers.set(id, this.registry.get(id)?.status.workers ?? []);
    const wire = toWirePlan(core, {
      request, attempt, plannerId: this.plannerId, workers, model: job.model,
      submittedAtMs: receivedAtMs, inputTaskIds: graph.inputs, outputTaskIds: graph.outputs, denseShards: { ...request.denseShards },
    });
    // An origin that is no device sends its data itself, from the plan it is sent: no assignment.
    if (wire.devices.get(request.originDevice)?.length === 0 && !this.registry.get(request.originDevice)) wire.devices.delete(request.originDevice);
    const plan = JobPlan.create({ ...wire.plan, predictedLocalLatencyMs: localMs, resendResult: job.resultMaybeLost } as JobPlanInit);
    // Each stage names the incarnation of its device: a device that restarts since refuses it.
    for (const stage of plan.stages) stage.deviceIncarnation = this.registry.get(stage.deviceId)?.status.incarnation ?? '';
    return { plan, devices: wire.devices, capability: signCapability(this.keys, request.originDevice, plan.jobId, attempt) };
  }

  /** Sends an attempt: its plan to the origin, one assignment per device, the job's first inputs. */
  async send(job: JobRecord, attempt: Attempt): Promise<void> {
    const { request } = job;
    const { plan, capability } = attempt;
    const published = [this.publish(topics.jobPlan(request.originDevice, request.jobId), this.publishedPlan(job), { qos: 1 })];
    // Devices read where each task runs from the stages: the placement map goes to the origin only.
    const carried = { ...plan, placement: {} };
    for (const [deviceId, stageIds] of attempt.devices) {
      const assignment = Assignment.encode({ jobId: plan.jobId, attempt: plan.attempt, deviceId, originDevice: request.originDevice, plan: carried, stageIds, capability, issuedAtMs: Date.now() });
      published.push(this.publish(topics.deviceAssign(deviceId), assignment, { qos: 1 }));
    }
    for (const { deviceId, worker, message } of initialInputs(carried)) {
      published.push(this.publish(worker !== '' ? topics.workerInbox(deviceId, worker) : topics.deviceInbox(deviceId), StageInput.encode({ ...message, capability }), { qos: 1 }));
    }
    await Promise.all(published);
  }

  /** The plan as published to the origin, with the attempt's capability; with the DAG for viewers when the planner was asked to (`planDag`). */
  publishedPlan(job: JobRecord): Uint8Array {
    const { plan } = job;
    const capability = plan.attempt > 0 ? signCapability(this.keys, plan.originDevice, plan.jobId, plan.attempt) : new Uint8Array(0);
    const tasks = this.planDag ? job.graph.tasks.map((x) => ({ ...x, pinnedDevice: x.pinned ?? '' })) : [];
    return JobPlan.encode({ ...plan, capability, tasks });
  }

  /** The latest plan again, as a sign of life to an origin that asked. */
  async resendPlan(job: JobRecord): Promise<void> {
    await this.publish(topics.jobPlan(job.request.originDevice, job.request.jobId), this.publishedPlan(job), { qos: 1 }).catch(() => undefined);
  }

  /** Tells the devices of an attempt to drop it (pending joins, stage inputs still to come). */
  cancel(plan: JobPlan): void {
    if (plan.attempt === 0) return;
    const devices = new Set(plan.stages.map((s) => s.deviceId));
    const capability = signCapability(this.keys, plan.originDevice, plan.jobId, plan.attempt);
    for (const deviceId of devices) {
      const cancel = Assignment.encode({ jobId: plan.jobId, attempt: plan.attempt, deviceId, originDevice: plan.originDevice, cancel: true, capability, issuedAtMs: Date.now() });
      void this.publish(topics.deviceAssign(deviceId), cancel, { qos: 1 }).catch(() => undefined);
    }
  }

  /**
   * Refuses a submission before planning it. The answer goes to the origin the topic names:
   * on the job's result topic, or — when the job id cannot be a topic level or was unreadable —
   * on jobs/{origin}/rejected. A submission no origin can be found for is only logged.
   */
  async refuse(topicOrigin: string, request: JobRequest | undefined, code: ErrorCode, message: string): Promise<void> {
    const jobId = request?.jobId ?? '';
    this.log.warn({ jobId: jobId.slice(0, 80), origin: topicOrigin, code, message }, 'job submission refused');
    if (!isValidId(topicOrigin)) return;
    if (isValidId(jobId)) return this.fail(topicOrigin, jobId, 0, JobStatus.JOB_STATUS_REJECTED, code, message);
    const shown = jobId.slice(0, MAX_REJECTED_ID_CHARS);
    return this.fail(topicOrigin, shown, 0, JobStatus.JOB_STATUS_REJECTED, code, message, topics.jobRejected(topicOrigin));
  }

  /** A signed result that says why a job did not run, on the job's result topic unless another is given. */
  async fail(origin: string, jobId: string, attempt: number, status: JobStatus, code: ErrorCode, message: string, topic = topics.jobResult(origin, jobId)): Promise<void> {
    const payload = JobResult.encode({
      jobId, attempt, status, error: { code, message }, producedBy: `planner:${this.plannerId}`, finishedAtMs: Date.now(),
      capability: signCapability(this.keys, origin, jobId, attempt),
    });
    await this.publish(topic, payload, { qos: 1 }).catch(() => undefined);
  }
}
