// edgeweave's library surface: what a program on a device, a planner host or a test harness
// imports. The command line (`edgeweave ...`) is built from the same parts.
export { JobClient, submitJob, DEFAULT_TIMEOUT_MS } from './node-runtime/client.ts';
export type { JobClientOptions, JobOutcome } from './node-runtime/client.ts';
export { buildJobInputs } from './node-runtime/job-inputs.ts';
export { Device } from './node-runtime/device.ts';
export type { DeviceConfig } from './node-runtime/device.ts';
export { PlannerService } from './planner/service.ts';
export type { PlannerServiceOptions } from './planner/service.ts';
export { planJob, compareAlgorithms, ALGORITHM_NAMES } from './planner/core/index.ts';
export type { PlanRequest, Plan, PlanOutcome, DeviceSpec, Objective } from './planner/core/index.ts';
export { startBroker } from './broker/index.ts';
export type { BrokerOptions, BrokerHandle } from './broker/index.ts';
export { getTaskGraph } from './models/task-graph.ts';
export {
  topics, filters, parseTopic, encodeTensor, decodeTensor, EdgeweaveError, ERROR_CODES,
  JobRequest, JobResult, JobPlan, StageReport, DeviceStatus, Tensor,
} from './schemas/index.ts';
export type { TensorData, ErrorCode, TaskGraph, TaskNode, JobRequestInit } from './schemas/index.ts';
