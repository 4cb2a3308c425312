/**
 * Sanity checks of what devices announce, before a planner believes it: a status or profile
 * that decodes but makes no sense (a wrong message type on the topic, garbage) is refused
 * with E_DECODE rather than becoming a phantom device or a poisoned estimate.
 */
import { DeviceState, Role, type DeviceProfile, type DeviceStatus } from '../schemas/generated/edgeweave.ts';
import { isValidId } from '../schemas/topics.ts';

const finiteAtLeast = (x: number, min: number): boolean => Number.isFinite(x) && x >= min;

/** Why a status is not believable, or undefined when it is. */
export function statusProblem(s: DeviceStatus): string | undefined {
  if (!isValidId(s.deviceId)) return 'device id is not a valid id';
  const states: readonly DeviceState[] = [DeviceState.DEVICE_STATE_ONLINE, DeviceState.DEVICE_STATE_OFFLINE, DeviceState.DEVICE_STATE_DRAINING];
  if (!states.includes(s.state)) return `unknown state ${s.state}`;
  if (s.state === DeviceState.DEVICE_STATE_OFFLINE) return undefined; // a last will says little more
  const roles: readonly Role[] = [Role.ROLE_IOT, Role.ROLE_EDGE, Role.ROLE_CLOUD];
  if (!roles.includes(s.role)) return `unknown role ${s.role}`;
  if (s.incarnation === '') return 'no incarnation';
  if (!(s.heartbeatMs >= 100 && s.heartbeatMs <= 600_000)) return `heartbeat ${s.heartbeatMs} ms out of range`;
  if (!finiteAtLeast(s.speed, 1e-6) || s.speed > 1e6) return `speed ${s.speed} out of range`;
  if (!finiteAtLeast(s.memoryBytes, 1)) return `memory ${s.memoryBytes} out of range`;
  if (s.workers.length === 0 || s.workers.length > 1024 || !s.workers.every(isValidId)) return 'no valid executor ids';
  if (s.models.length > 10_000) return 'too many models';
  const l = s.link;
  if (l && (!finiteAtLeast(l.upBps, 0) || !finiteAtLeast(l.downBps, 0) || !finiteAtLeast(l.rttMs, 0))) return 'link figures out of range';
  if (!finiteAtLeast(s.traceUpBps, 0)) return 'trace bandwidth out of range';
  return undefined;
}

/** Why a profile is not believable, or undefined when it is. */
export function profileProblem(p: DeviceProfile): string | undefined {
  if (!isValidId(p.deviceId)) return 'device id is not a valid id';
  for (const m of p.models) {
    if (!m.model || m.model.name === '') return 'a model profile names no model';
    if (m.tasks.length > 100_000) return 'too many tasks';
    for (const t of m.tasks) if (!finiteAtLeast(t.latencyMs, 0) || t.latencyMs > 3_600_000) return `task ${t.taskId}: latency ${t.latencyMs} out of range`;
  }
  return undefined;
}
