/**
 * What an executor asks of its device: the stage ledger (run each stage once across all
 * executors of the device), the emulated link (one per device, shared by its executors),
 * the clock offset, and load accounting. In-process for a single executor; over IPC from
 * worker processes to their device (see worker-ipc.ts).
 */
import type { ClaimOutcome } from './ledger.ts';

export interface DeviceServices {
  claim(key: string, workerId: string): Promise<ClaimOutcome>;
  complete(key: string): Promise<void>;
  release(key: string): Promise<void>;
  /** Emulated delay (ms) before a message of `bytes` sent now has crossed the uplink (0 without emulation). */
  sendDelay(bytes: number): Promise<number>;
  /** Emulated delay (ms) before a message of `bytes` received now has crossed the downlink. */
  receiveDelay(bytes: number): Promise<number>;
  /** Reference clock minus this device's clock (ms). */
  clockOffsetMs(): number;
  /** Bound on the error of that offset (ms); -1 before the first clock exchange (as on the wire). */
  clockUncertaintyMs(): number;
  /** Load accounting for the device status. */
  stageQueued(delta: number): void;
  stageBusy(busy: boolean): void;
}
