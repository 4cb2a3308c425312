/**
 * The time side of the cost model: how long a task computes on a device and how long a tensor
 * takes from one device to another. The energy side is in energy.ts.
 *
 * Compute: a measured profile latency for (device, task) when one exists (the runtime publishes
 * profiles already scaled to the device), else FLOPs / (reference FLOP/s x device speed) plus a
 * small per-task overhead, also scaled by speed. Either way x the device's load factor.
 *
 * Transfer of b bytes from device a to device c (a != c) goes through the broker, store and
 * forward: it crosses a's uplink, then c's downlink, and pays half of each device's RTT to the
 * broker (one way each):  b x 8 / up_a + b x 8 / down_c + (rtt_a + rtt_c) / 2.
 * On one device it costs nothing. Transfers do not contend with each other (each sees the full
 * link); that keeps the model of Topcuoglu et al. and is optimistic for fan-outs on thin links.
 */
import type { LinkSpec } from './types.ts';

/** FLOP/s of the reference host (speed 1): the wasm engine on one core of this host, ~25-30 GFLOP/s. */
export const DEFAULT_REFERENCE_FLOPS_PER_SEC = 25e9;
/** Fixed cost of running one task (layer call, tensor bookkeeping) on the reference host. */
export const DEFAULT_TASK_OVERHEAD_MS = 0.05;

export interface ComputeEstimateOptions {
  referenceFlopsPerSec?: number;
  taskOverheadMs?: number;
  loadFactor?: number;
}

/** Compute time of a task estimated from its FLOPs (no profile). */
export function estimateComputeMs(flops: number, speed: number, options: ComputeEstimateOptions = {}): number {
  const reference = options.referenceFlopsPerSec ?? DEFAULT_REFERENCE_FLOPS_PER_SEC;
  const overhead = options.taskOverheadMs ?? DEFAULT_TASK_OVERHEAD_MS;
  return (((flops / reference) * 1000 + overhead) / speed) * (options.loadFactor ?? 1);
}

/** ms per byte on an uplink or downlink of the given bits per second. */
export function msPerByte(bitsPerSec: number): number {
  return 8000 / bitsPerSec;
}

export interface TransferLegs {
  /** Sender's side: its uplink plus half its RTT. */
  upMs: number;
  /** Receiver's side: its downlink plus half its RTT. */
  downMs: number;
  totalMs: number;
}

/** The two legs of a transfer between two different devices. */
export function transferLegs(bytes: number, from: LinkSpec, to: LinkSpec): TransferLegs {
  const upMs = bytes * msPerByte(from.upBps) + from.rttMs / 2;
  const downMs = bytes * msPerByte(to.downBps) + to.rttMs / 2;
  return { upMs, downMs, totalMs: upMs + downMs };
}
