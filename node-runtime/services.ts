/**
 * What an executor asks of its device: the stage ledger (run each stage once across all
 * executors of the device), the emulated link (one per device, shared by its executors),
 * the clock offset, and load accounting. In-process for a single executor; over IPC from
 * worker processes to their device (see worker-ipc.ts).
 */
import type { ClaimOutcome } from './ledger.ts';
import type { Tensor } from '../schemas/generated/edgeweave.ts';

/** What a final stage hands its device to send: its report, and the job result unless its attempt was superseded. */
export interface ResultCommit {
  /** The stage (its ledger key). */
  key: string;
  /** The job (ledger `jobKey`) and attempt the result belongs to. */
  job: string;
  attempt: number;
  reportTopic: string;
  report: Uint8Array;
  resultTopic: string;
  result?: Uint8Array;
  /** Send the result even if the device sent one for this job before (JobPlan.resend_result). */
  resend?: boolean;
}

/**
 * `sent`: the stage is done and its report and result are on their way; `suppressed`: done and
 * reported, but the device already sent a result for this job (another attempt) or none was
 * given; `duplicate`: the stage was done already, nothing sent.
 */
export type CommitOutcome = 'sent' | 'suppressed' | 'duplicate';

export interface DeviceServices {
  claim(key: string, workerId: string): Promise<ClaimOutcome>;
  /** Records a claimed stage done (its outputs are with the broker). */
  complete(key: string): Promise<void>;
  /**
   * The commit point of a final stage: records the stage done and sends its report and result
   * from the device, in one step, so the result leaves once even when the worker dies.
   */
  commitResult(commit: ResultCommit): Promise<CommitOutcome>;
  release(key: string): Promise<void>;
  /** Emulated delay (ms) before a message of `bytes` sent now has crossed the uplink (0 without emulation). */
  sendDelay(bytes: number): Promise<number>;
  /** Emulated delay (ms) before a message of `bytes` received now has crossed the downlink. */
  receiveDelay(bytes: number): Promise<number>;
  /**
   * The data the job's origin handed this device for input task `taskId` (held-inputs.ts),
   * waiting up to `waitMs` for it to be handed over; undefined when it is not here.
   */
  heldInput(origin: string, jobId: string, taskId: string, waitMs: number): Promise<Tensor | undefined>;
  /** Reference clock minus this device's clock (ms). */
  clockOffsetMs(): number;
  /** Bound on the error of that offset (ms); -1 before the first clock exchange (as on the wire). */
  clockUncertaintyMs(): number;
  /** Load accounting for the device status. */
  stageQueued(delta: number): void;
  stageBusy(busy: boolean): void;
}
