/**
 * The energy model, per device, in joules:
 *
 *   E = busyW x compute time + idleW x waiting time + radio energy
 *
 * - compute time: the device's tasks of this job.
 * - waiting time: the origin waits, awake, from submission until its result arrives, so it is
 *   charged idle power for all of that time it does not compute. A helper device is charged only
 *   while it works for the job: computing, or its radio moving the job's tensors; between its
 *   stages it is free for other work, so that time is not the job's.
 * - radio energy (Huang et al., MobiSys 2012): while a radio moves data at t Mbps it draws
 *   alpha x t + beta mW on top of the device's baseline. Over a leg of `ms` carrying `bits`, that
 *   integrates to alpha x Mbit + beta x seconds (mJ): the sender pays its uplink alpha on the
 *   bits and beta over its leg (uplink time + half its RTT); the receiver likewise with its
 *   downlink alpha. Tail energy after a transfer (large for LTE) is not modelled.
 */
import type { RadioPowerModel } from './types.ts';

/** Energy of one leg of a transfer (J). */
export function radioLegEnergyJ(model: RadioPowerModel, direction: 'up' | 'down', bytes: number, legMs: number): number {
  const alpha = direction === 'up' ? model.upAlphaMwPerMbps : model.downAlphaMwPerMbps;
  return (alpha * ((bytes * 8) / 1e6) + model.betaMw * (legMs / 1000)) / 1000;
}

/** Compute and idle energy of a device (J), radio excluded. */
export function cpuEnergyJ(busyW: number, idleW: number, computeMs: number, idleMs: number): number {
  return (busyW * computeMs + idleW * idleMs) / 1000;
}
