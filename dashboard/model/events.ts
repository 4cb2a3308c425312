/**
 * What the dashboard hears, as values: one `DashboardEvent` per MQTT message (decoded
 * with the generated codecs) plus the page's own facts (connection state, a click).
 * `decodeMessage` is pure and never throws: a malformed message becomes a `problem`.
 */
import {
  DeviceProfile, DeviceStatus, JobPlan, JobResult, PlannerStatus, StageReport,
} from '../../schemas/generated/edgeweave.ts';
import { filters, parseTopic } from '../../schemas/topics.ts';

/** The public topics the dashboard reads: exactly what the broker's `observer` role may subscribe to, minus the debug mirror. */
export const DASHBOARD_FILTERS: readonly string[] = [
  filters.allDeviceStatus(),
  filters.allDeviceProfiles(),
  filters.allPlannerStatus(),
  filters.jobPlans(),
  filters.jobReports(),
  filters.jobResults(),
];

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'refused';

export type DashboardEvent =
  | { kind: 'deviceStatus'; status: DeviceStatus; atMs: number }
  | { kind: 'deviceProfile'; profile: DeviceProfile; atMs: number }
  | { kind: 'plannerStatus'; status: PlannerStatus; atMs: number }
  | { kind: 'jobPlan'; originId: string; plan: JobPlan; atMs: number }
  | { kind: 'stageReport'; originId: string; report: StageReport; atMs: number }
  | { kind: 'jobResult'; originId: string; jobId: string; result: JobResult; atMs: number }
  | { kind: 'connection'; state: ConnectionState; detail: string; atMs: number }
  | { kind: 'subscribed'; refused: string[]; atMs: number }
  | { kind: 'selectJob'; jobKey: string | null }
  | { kind: 'problem'; topic: string; message: string; atMs: number }
  | { kind: 'ignored' };

/** Decodes one message received at `atMs` (the page's clock) into an event. */
export function decodeMessage(topic: string, payload: Uint8Array, atMs: number): DashboardEvent {
  const parsed = parseTopic(topic);
  if (parsed === undefined) return { kind: 'ignored' };
  try {
    switch (parsed.kind) {
      case 'deviceStatus': {
        const status = DeviceStatus.decode(payload);
        // The topic names the device; a payload claiming another is not trusted.
        return { kind: 'deviceStatus', status: { ...status, deviceId: parsed.deviceId }, atMs };
      }
      case 'deviceProfile': {
        const profile = DeviceProfile.decode(payload);
        return { kind: 'deviceProfile', profile: { ...profile, deviceId: parsed.deviceId }, atMs };
      }
      case 'plannerStatus': {
        const status = PlannerStatus.decode(payload);
        return { kind: 'plannerStatus', status: { ...status, plannerId: parsed.plannerId }, atMs };
      }
      case 'jobPlan': {
        const plan = JobPlan.decode(payload);
        return { kind: 'jobPlan', originId: parsed.originId, plan: { ...plan, jobId: parsed.jobId }, atMs };
      }
      case 'jobReport': {
        const report = StageReport.decode(payload);
        return { kind: 'stageReport', originId: parsed.originId, report: { ...report, jobId: parsed.jobId }, atMs };
      }
      case 'jobResult': {
        // Output tensors can be large and are not shown: drop them at once.
        const result = { ...JobResult.decode(payload), outputs: [] };
        return { kind: 'jobResult', originId: parsed.originId, jobId: parsed.jobId, result, atMs };
      }
      default:
        return { kind: 'ignored' };
    }
  } catch (err) {
    return { kind: 'problem', topic, message: err instanceof Error ? err.message : String(err), atMs };
  }
}

/** The key of a job in the dashboard: job ids are unique per origin. */
export function jobKeyOf(originId: string, jobId: string): string {
  return `${originId}/${jobId}`;
}
