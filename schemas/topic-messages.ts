/** Which message travels on which kind of topic (docs/PROTOCOL.md's table, as data). */
import {
  DeviceStatus, DeviceProfile, Assignment, StageInput, JobRequest, JobPlan, StageReport, JobResult, ClockPing, ClockPong, PlannerStatus, ModelCard,
} from './generated/edgeweave.ts';
import type { MessageCodec } from './proto-runtime.ts';
import type { TopicKind } from './topics.ts';

export const MESSAGE_OF_TOPIC: Readonly<Record<Exclude<TopicKind, 'debug'>, MessageCodec<unknown, never>>> = {
  deviceStatus: DeviceStatus,
  deviceProfile: DeviceProfile,
  deviceAssign: Assignment,
  deviceInbox: StageInput,
  workerInbox: StageInput,
  jobSubmit: JobRequest,
  jobRejected: JobResult,
  jobPlan: JobPlan,
  jobReport: StageReport,
  jobResult: JobResult,
  clockPing: ClockPing,
  clockPong: ClockPong,
  plannerStatus: PlannerStatus,
  modelCard: ModelCard,
} as unknown as Readonly<Record<Exclude<TopicKind, 'debug'>, MessageCodec<unknown, never>>>;
