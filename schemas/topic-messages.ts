/** Which message travels on which kind of topic (docs/PROTOCOL.md's table, as data). */
import {
  DeviceStatus, DeviceProfile, Assignment, StageInput, JobRequest, JobPlan, StageReport, JobResult, ClockPing, ClockPong, PlannerStatus, ModelCard, HeldInputs,
} from './generated/edgeweave.ts';
import type { MessageCodec } from './proto-runtime.ts';
import type { ParsedTopic, TopicKind } from './topics.ts';

/** The message type of every kind of topic that carries a protobuf message. */
export interface TopicMessages {
  deviceStatus: DeviceStatus;
  deviceProfile: DeviceProfile;
  deviceAssign: Assignment;
  deviceInbox: StageInput;
  workerInbox: StageInput;
  deviceHold: HeldInputs;
  jobSubmit: JobRequest;
  jobRejected: JobResult;
  jobPlan: JobPlan;
  jobReport: StageReport;
  jobResult: JobResult;
  clockPing: ClockPing;
  clockPong: ClockPong;
  plannerStatus: PlannerStatus;
  modelCard: ModelCard;
}

/** A kind of topic that carries a message (every kind but the JSON debug mirror). */
export type MessageKind = keyof TopicMessages & TopicKind;

/** A parsed topic of one kind: its ids. */
export type TopicOf<K extends TopicKind> = Extract<ParsedTopic, { kind: K }>;

export const MESSAGE_OF_TOPIC: { readonly [K in MessageKind]: MessageCodec<TopicMessages[K], never> } = {
  deviceStatus: DeviceStatus,
  deviceProfile: DeviceProfile,
  deviceAssign: Assignment,
  deviceInbox: StageInput,
  workerInbox: StageInput,
  deviceHold: HeldInputs,
  jobSubmit: JobRequest,
  jobRejected: JobResult,
  jobPlan: JobPlan,
  jobReport: StageReport,
  jobResult: JobResult,
  clockPing: ClockPing,
  clockPong: ClockPong,
  plannerStatus: PlannerStatus,
  modelCard: ModelCard,
};
