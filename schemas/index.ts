// The public surface of schemas/: the wire messages, topics, tensor codec, errors, graph types.
export {
  DESCRIPTOR,
  DType, Encoding, Role, DeviceState, Radio, ObjectiveKind, StageStatus, JobStatus, PlannerState,
  Tensor, Link, PowerProfile, DeviceStatus, TaskTiming, ModelProfile, DeviceProfile, ModelRef, TaskSpec, JobInput,
  Objective, JobRequest, StageSource, Route, StagePrediction, StageSpec, JobPlan, Assignment, StageTiming,
  StageInput, ErrorInfo, StageReport, ClassScore, DeviceEnergy, JobResult, PlannerStatus, ClockPing, ClockPong,
} from './generated/edgeweave.ts';
export type {
  TensorInit, LinkInit, PowerProfileInit, DeviceStatusInit, TaskTimingInit, ModelProfileInit, DeviceProfileInit,
  ModelRefInit, TaskSpecInit, JobInputInit, ObjectiveInit, JobRequestInit, StageSourceInit, RouteInit,
  StagePredictionInit, StageSpecInit, JobPlanInit, AssignmentInit, StageTimingInit, StageInputInit, ErrorInfoInit,
  StageReportInit, ClassScoreInit, DeviceEnergyInit, JobResultInit, PlannerStatusInit, ClockPingInit, ClockPongInit,
} from './generated/edgeweave.ts';
export type { MessageCodec } from './proto-runtime.ts';
export {
  TOPIC_ROOT, topics, filters, parseTopic, parseSharedFilter, topicMatches, isValidId, assertValidId,
} from './topics.ts';
export type { ParsedTopic, TopicKind } from './topics.ts';
export {
  encodeTensor, decodeTensor, bytesPerElement, elementCount, encodingName, encodingFromName, maxDeviation,
} from './tensor-codec.ts';
export type { TensorData, TensorDType, TensorValues, TensorEncodingName, EncodeOptions, DecodeLimits } from './tensor-codec.ts';
export { ERROR_CODES, EdgeweaveError, isEdgeweaveError, toEdgeweaveError } from './errors.ts';
export type { ErrorCode } from './errors.ts';
export type { TaskGraph, TaskNode } from './graph.ts';
