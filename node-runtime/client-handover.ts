/**
 * How a job client gets a job to its planner without the job's data: the data goes to the
 * origin's own device (which feeds the job's input stage, or sends the data on to the stage
 * that takes it) and the submission carries only its description. On the device's host the
 * client uses the device's local socket — no network, and the submission leaves over the
 * device's own link; from another host it publishes the data on devices/{origin}/hold. A
 * program whose origin is not a device keeps the data and, once a plan comes, sends it itself
 * straight to the stages that take it (with the capability the plan carries).
 */
import type { Logger } from 'pino';
import type { Transport } from '../transport/mqtt-transport.ts';
import { HeldInputs, JobRequest, StageInput, type DeviceStatus, type JobPlan, type JobRequestInit, type TensorInit } from '../schemas/generated/edgeweave.ts';
import { topics } from '../schemas/topics.ts';
import { isEdgeweaveError } from '../schemas/errors.ts';
import { LocalSocketClient, hostId } from './local-socket.ts';

/** The request as submitted (inputs described, data left out) and the data it describes, named by input task. */
export function splitJobData(request: JobRequestInit): { wire: JobRequestInit; data: TensorInit[] } {
  const data: TensorInit[] = [];
  const inputs = (request.inputs ?? []).map((input) => {
    if (!input.tensor) return input;
    const { tensor, ...rest } = input;
    const name = input.taskId ?? '';
    data.push({ ...tensor, name });
    const { data: _data, ...described } = tensor;
    return { ...rest, held: { ...described, name, data: new Uint8Array(0) } };
  });
  return { wire: { ...request, inputs }, data };
}

export class JobHandover {
  private local: LocalSocketClient | undefined;
  /** The connection being opened (jobs submitted together share it). */
  private opening: Promise<LocalSocketClient | undefined> | undefined;
  /** The socket path tried last: a device that restarts announces a new one. */
  private triedPath = '';
  private readonly host = hostId();
  /** Jobs whose data this client sends itself (its origin is no device), with the attempts sent. */
  private readonly ownData = new Map<string, { data: TensorInit[]; sent: Set<number> }>();

  constructor(
    private readonly transport: Transport,
    private readonly origin: string,
    private readonly originStatus: () => DeviceStatus | undefined,
    private readonly log: Logger,
  ) {}

  /** Whether the last submission went over the device's local socket. */
  get usesLocalSocket(): boolean {
    return this.local?.usable === true;
  }

  /** Hands the job's data to the origin's device, then submits it; throws when the device refuses the data. */
  async submit(request: JobRequestInit): Promise<void> {
    const { wire, data } = splitJobData(request);
    const jobId = request.jobId ?? '';
    const hold = { jobId, originDevice: this.origin, tensors: data, keepMs: request.timeoutMs ?? 0 };
    if (data.length > 0 && this.originStatus() === undefined) {
      // The origin is no device (none ever announced itself): the data leaves from here once planned.
      const own = this.ownData.get(jobId) ?? { data, sent: new Set<number>() };
      this.ownData.set(jobId, { ...own, data });
      await this.transport.publish(topics.jobSubmit(this.origin), JobRequest.encode(wire), { qos: 1 });
      return;
    }
    const link = await this.localLink();
    if (link) {
      try {
        // Both at once: the device takes its requests in order, and submits only once it holds the data.
        const payload = JobRequest.encode(wire);
        await link.request(data.length > 0 ? { hold, submit: payload } : { submit: payload });
        this.transport.mirrorJson(topics.jobSubmit(this.origin), payload);
        return;
      } catch (err) {
        // The device refused the data (a malformed tensor): the job cannot run anywhere.
        if (isEdgeweaveError(err) && err.code !== 'E_LOCAL') throw err;
        this.log.warn({ err, jobId }, 'local socket lost: handing the job over MQTT');
        this.dropLocal();
      }
    }
    if (data.length > 0) await this.transport.publish(topics.deviceHold(this.origin), HeldInputs.encode(hold), { qos: 1 });
    await this.transport.publish(topics.jobSubmit(this.origin), JobRequest.encode(wire), { qos: 1 });
  }

  /**
   * A plan came: when this client holds the job's data itself, it sends the data to the stages
   * that take it from the origin (once per attempt).
   */
  planned(plan: JobPlan): void {
    const own = this.ownData.get(plan.jobId);
    if (!own || own.sent.has(plan.attempt)) return;
    own.sent.add(plan.attempt);
    for (const stage of plan.stages) {
      const names = stage.inputs.filter((i) => i.fromStage === '' && i.fromDevice === this.origin).map((i) => i.tensor);
      if (names.length === 0) continue;
      const tensors = names.map((n) => ({ ...(own.data.find((t) => t.name === n) ?? (own.data.length === 1 ? own.data[0] : undefined)), name: n }));
      const payload = StageInput.encode({
        jobId: plan.jobId, attempt: plan.attempt, stageId: stage.stageId, plan: { ...plan, tasks: [], capability: new Uint8Array(0) },
        fromDevice: this.origin, fromStage: '', tensors, capability: plan.capability, sentAtMs: Date.now(),
      });
      const topic = stage.worker !== '' ? topics.workerInbox(stage.deviceId, stage.worker) : topics.deviceInbox(stage.deviceId);
      void this.transport.publish(topic, payload, { qos: 1 }).catch((err: unknown) => this.log.warn({ err, jobId: plan.jobId }, 'job data not sent'));
    }
  }

  /** The job is over: its data need not be held any more (over MQTT it expires with the job). */
  release(jobId: string): void {
    this.ownData.delete(jobId);
    if (this.local?.usable) void this.local.request({ release: jobId }).catch(() => undefined);
  }

  close(): void {
    this.dropLocal();
  }

  private dropLocal(): void {
    this.local?.close();
    this.local = undefined;
  }

  /** The device's local socket when it runs on this host (from its status), connected once. */
  private async localLink(): Promise<LocalSocketClient | undefined> {
    const status = this.originStatus();
    if (!status || status.localSocket === '' || status.hostId !== this.host) {
      this.dropLocal();
      return undefined;
    }
    const path = status.localSocket;
    if (this.triedPath === path && this.opening) return this.opening;
    if (this.local?.usable && this.triedPath === path) return this.local;
    this.dropLocal();
    this.triedPath = path;
    const opening = LocalSocketClient.connect(path).then(
      (link) => {
        this.log.debug({ path }, 'handing job data to the device over its local socket');
        this.local = link;
        return link;
      },
      (err: unknown) => {
        this.log.debug({ err }, 'the device\'s local socket cannot be opened: handing job data over MQTT');
        return undefined;
      },
    ).finally(() => {
      if (this.opening === opening) this.opening = undefined;
    });
    this.opening = opening;
    return opening;
  }
}
