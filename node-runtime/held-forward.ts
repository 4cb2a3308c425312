/**
 * An origin's device sends the data it holds for a job to the stages that take it when they
 * run on other devices (an origin that does not hold the model runs no stage of the job). The
 * planner gives such an origin the plan in an assignment with no stage of its own; the data
 * leaves over the device's own (emulated) uplink, straight to the stage's device.
 */
import type { Logger } from 'pino';
import type { Received, Transport } from '../transport/mqtt-transport.ts';
import { StageInput, type Assignment, type JobPlan } from '../schemas/generated/edgeweave.ts';
import { filters, topics } from '../schemas/topics.ts';
import { AttemptGate } from './stage-gate.ts';
import { HELD_WAIT_MS, type HeldStore } from './held-inputs.ts';
import { sleep } from './stage-runner.ts';

export class HeldForwarder {
  private readonly gate = new AttemptGate();

  constructor(
    private readonly deviceId: string,
    private readonly transport: Transport,
    private readonly store: HeldStore,
    private readonly sendDelay: (bytes: number) => Promise<number>,
    private readonly log: Logger,
  ) {}

  async attach(): Promise<void> {
    const quiet = { onRefused: (r: { ack(): void }) => r.ack() };
    await this.transport.on('plannerStatus', filters.allPlannerStatus(), ({ message, topic }) => {
      if (topic.plannerId === message.plannerId) this.gate.plannerKey(message.plannerId, message.publicKey);
    }, quiet);
    await this.transport.on('deviceAssign', topics.deviceAssign(this.deviceId), (m) => void this.onAssignment(m), quiet);
  }

  private async onAssignment({ message: a }: Received<'deviceAssign'>): Promise<void> {
    const plan = a.plan;
    if (a.cancel || !plan || plan.originDevice !== this.deviceId || plan.jobId !== a.jobId || plan.attempt !== a.attempt) return;
    const sends = plan.stages.filter((s) => s.deviceId !== this.deviceId && s.inputs.some((i) => i.fromStage === '' && i.fromDevice === this.deviceId));
    if (sends.length === 0) return;
    if (!this.gate.accepts(plan.originDevice, plan.jobId, plan.attempt, a.capability)) {
      this.log.warn({ code: 'E_CAPABILITY', jobId: plan.jobId, attempt: plan.attempt }, 'assignment refused: no valid capability');
      return;
    }
    await Promise.all(sends.map((stage) => this.send(plan, stage, a)));
  }

  private async send(plan: JobPlan, stage: JobPlan['stages'][number], a: Assignment): Promise<void> {
    const names = stage.inputs.filter((i) => i.fromStage === '' && i.fromDevice === this.deviceId).map((i) => i.tensor);
    const tensors = await Promise.all(names.map((n) => this.store.take(this.deviceId, plan.jobId, n, HELD_WAIT_MS)));
    const missing = names.filter((_, k) => tensors[k] === undefined);
    if (missing.length > 0) {
      this.log.warn({ code: 'E_INPUT', jobId: plan.jobId, stageId: stage.stageId, missing }, 'job data to send on is not held here (never handed over, or expired)');
      return;
    }
    const payload = StageInput.encode({
      jobId: plan.jobId, attempt: plan.attempt, stageId: stage.stageId, plan, fromDevice: this.deviceId, fromStage: '',
      tensors: tensors.map((t, k) => ({ ...t!, name: names[k]! })), capability: a.capability, sentAtMs: Date.now(),
    });
    await sleep(await this.sendDelay(payload.byteLength));
    const topic = stage.worker !== '' ? topics.workerInbox(stage.deviceId, stage.worker) : topics.deviceInbox(stage.deviceId);
    await this.transport.publish(topic, payload, { qos: 1 }).catch((err: unknown) => this.log.warn({ err, jobId: plan.jobId, stageId: stage.stageId }, 'job data not sent on'));
  }
}
