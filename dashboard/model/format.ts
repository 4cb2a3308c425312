/** Short human-readable numbers and the names of wire enums, for the page. */
import { DeviceState, JobStatus, Role } from '../../schemas/generated/edgeweave.ts';

export function formatBps(bps: number): string {
  if (!(bps > 0)) return '–';
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gbps`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(bps >= 1e8 ? 0 : 1)} Mbps`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(0)} kbps`;
  return `${bps.toFixed(0)} bps`;
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function formatJ(j: number): string {
  if (!Number.isFinite(j)) return '–';
  if (j >= 10) return `${j.toFixed(1)} J`;
  if (j >= 0.1) return `${j.toFixed(2)} J`;
  return `${(j * 1000).toFixed(1)} mJ`;
}

export function formatClock(atMs: number): string {
  const d = new Date(atMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export function roleName(role: Role): string {
  switch (role) {
    case Role.ROLE_IOT: return 'iot';
    case Role.ROLE_EDGE: return 'edge';
    case Role.ROLE_CLOUD: return 'cloud';
    default: return '?';
  }
}

export function deviceStateName(state: DeviceState): 'online' | 'offline' | 'draining' | 'unknown' {
  switch (state) {
    case DeviceState.DEVICE_STATE_ONLINE: return 'online';
    case DeviceState.DEVICE_STATE_OFFLINE: return 'offline';
    case DeviceState.DEVICE_STATE_DRAINING: return 'draining';
    default: return 'unknown';
  }
}

export type JobStatusName = 'running' | 'ok' | 'failed' | 'timeout' | 'rejected' | 'unknown';

export function jobStatusName(status: JobStatus): JobStatusName {
  switch (status) {
    case JobStatus.JOB_STATUS_OK: return 'ok';
    case JobStatus.JOB_STATUS_FAILED: return 'failed';
    case JobStatus.JOB_STATUS_TIMEOUT: return 'timeout';
    case JobStatus.JOB_STATUS_REJECTED: return 'rejected';
    default: return 'unknown';
  }
}

/** Distinct, readable on white, colour-blind friendlier first (Okabe-Ito, then Tableau). */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#8c564b', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939'];

/** A device's colour: by the order the page first saw it, so colours never change under you. */
export function deviceColor(deviceOrder: readonly string[], deviceId: string): string {
  const i = deviceOrder.indexOf(deviceId);
  if (i >= 0) return PALETTE[i % PALETTE.length]!;
  // Not seen as a device (yet): a stable colour from its name.
  let h = 0;
  for (let k = 0; k < deviceId.length; k++) h = (h * 31 + deviceId.charCodeAt(k)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}
