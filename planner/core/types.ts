/**
 * The planner core's public data: what a caller hands to `planJob` and the `Plan` it gets back.
 * Plain data only (JSON-friendly), units in the names: ms, bytes, bits per second, watts, joules.
 */
import type { TaskGraph } from '../../schemas/graph.ts';
import type { ErrorCode } from '../../schemas/errors.ts';

export type { DeviceRole, RadioKind, PowerPresetName, RadioPowerModel, PowerSpec, PowerOverrides, DevicePower } from '../../power/types.ts';
import type { DeviceRole, PowerSpec, RadioKind } from '../../power/types.ts';

/** A device's link to the broker. Every transfer between two devices crosses the sender's uplink and the receiver's downlink. */
export interface LinkSpec {
  upBps: number;
  downBps: number;
  rttMs: number;
}

/** Time an executor is already taken by other jobs, in ms from the moment of planning. */
export interface BusyInterval {
  startMs: number;
  endMs: number;
  /** Executor index (0-based); absent: every executor of the device is busy. */
  worker?: number;
}

export interface LinkInterval {
  startMs: number;
  endMs: number;
}

export interface DeviceSpec {
  id: string;
  role: DeviceRole;
  /** Compute speed relative to the reference host (1 = as fast, 0.1 = ten times slower). */
  speed: number;
  /** Memory the device offers for this job's stages. */
  memoryBytes: number;
  link: LinkSpec;
  /** Default: `raspberry-pi-4` for iot, `edge-server` for edge, `cloud-vm` for cloud. */
  power?: PowerSpec;
  /** Default: `wifi` for iot, `wired` for edge and cloud. */
  radio?: RadioKind;
  /** Executors that can run stages at the same time (default 1). */
  workers?: number;
  /** Every executor is busy with earlier jobs until then (ms from now). */
  busyUntilMs?: number;
  /**
   * The device's uplink (downlink) carries other jobs' data until then (ms from now): a
   * transfer this job sends (receives) waits for it, as on a real bottleneck link. Default 0.
   */
  uplinkBusyUntilMs?: number;
  downlinkBusyUntilMs?: number;
  /** Time other jobs' data take on the uplink (downlink), ms from now; a transfer goes into the first gap that holds it. */
  uplinkBusy?: LinkInterval[];
  downlinkBusy?: LinkInterval[];
  busy?: BusyInterval[];
  /** Multiplies every compute time on this device (learned online; default 1). */
  loadFactor?: number;
  /** Measured latency per task id for the model being planned (already scaled to this device). */
  profileMs?: Record<string, number>;
}

export type Objective =
  | { kind: 'latency' }
  /** Energy of the origin device (its battery). */
  | { kind: 'energy' }
  /** Energy of all devices together. */
  | { kind: 'energy-total' }
  /** latencyWeight x latency_s + energyWeight x origin energy_J (the wire's OBJECTIVE_WEIGHTED). */
  | { kind: 'weighted'; latencyWeight: number; energyWeight: number };

export type ObjectiveKind = Objective['kind'];

export interface Constraints {
  /** End-to-end latency, result back at the origin included. */
  deadlineMs?: number;
  /** Energy of the origin device. */
  energyBudgetJ?: number;
}

/** How a cut tensor travels. `float32` is the wire's ENCODING_RAW. */
export type CutEncoding = 'float32' | 'float16' | 'int8' | 'uint8';

export interface TransportOptions {
  /** Lossy encodings for cut tensors: true = float16 and int8 (the smaller wins), or just one of them. Default false. */
  allowLossy?: boolean | 'float16' | 'int8';
  /** Send input tasks' tensors as uint8 pixels. Default 'auto': when the input looks like an image (H x W x 1|3|4). */
  inputAsUint8?: boolean | 'auto';
}

export interface CostModelOptions {
  /** FLOP/s of the reference host (speed 1). Default 25e9, the wasm engine on one core of this host. */
  referenceFlopsPerSec?: number;
  /** Added to every task estimated from FLOPs (not to measured profiles), before scaling by speed. Default 0.05 ms. */
  taskOverheadMs?: number;
  /** Input tasks run on the origin unless pinned elsewhere (a data source). Default true. */
  pinInputsToOrigin?: boolean;
  /** The model's outputs travel back to the origin; latency ends when they arrive. Default true. */
  returnResult?: boolean;
  /** float32 bytes of individual edges, keyed `from->to`, overriding the producer's outputBytes. */
  edgeBytes?: Record<string, number>;
  /**
   * `parallel` (default): devices and executors run concurrently, transfers overlap.
   * `serial`: the assumption of Neurosurgeon and DADS: one thing at a time, latency = sum of all
   * compute and all transfers. Used to check `dads` against `exact`.
   */
  timing?: 'parallel' | 'serial';
}

export interface SearchLimits {
  /** Branch-and-bound nodes for `exact` (default 2,000,000). */
  exactMaxNodes?: number;
  /** `auto` runs branch and bound only up to this many tasks (default 32). */
  autoExactMaxTasks?: number;
  /** Nodes for `auto`'s branch and bound (default 100,000). */
  autoExactMaxNodes?: number;
  /** Work budget of local improvement, in task and edge visits of the evaluator (default 400,000). */
  improveWork?: number;
}

export interface PlanRequest {
  graph: TaskGraph;
  devices: DeviceSpec[];
  /** The device that submits the job and receives its result. */
  origin: string;
  /** Algorithm name (see ALGORITHM_NAMES); default `auto`. */
  algorithm?: string;
  objective?: Objective;
  constraints?: Constraints;
  transport?: TransportOptions;
  /** Extra pins task id -> device id, beside TaskNode.pinned. */
  pins?: Record<string, string>;
  /** Devices that must not be used (offline). */
  excludeDevices?: string[];
  cost?: CostModelOptions;
  limits?: SearchLimits;
}

export type InfeasibleReason = 'memory' | 'pin' | 'deadline' | 'energy-budget' | 'no-device' | 'not-applicable';

export interface PlanIssue {
  code: ErrorCode;
  message: string;
  reason?: InfeasibleReason;
  /** Where in the request: `graph.tasks[3].preds`, `devices[1].speed`, ... */
  path?: string;
}

export type PlanOutcome = { ok: true; plan: Plan } | { ok: false; issues: PlanIssue[] };

// ---------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------

/** One task's predicted schedule. Times are ms after the job's submission. */
export interface PlannedTask {
  id: string;
  device: string;
  worker: number;
  stage: string;
  /** When its last input arrived. */
  readyMs: number;
  startMs: number;
  computeMs: number;
  finishMs: number;
}

/** A tensor crossing from one stage to another (same device: handed over locally, no transfer). */
export interface StageEdge {
  fromStage: string;
  toStage: string;
  fromDevice: string;
  toDevice: string;
  /** The producing task id (the wire's tensor name). */
  tensor: string;
  /** Tasks of the receiving stage that consume it. */
  toTasks: string[];
  encoding: CutEncoding;
  bytes: number;
  /** Leaves when the producing stage finishes. */
  sendMs: number;
  transferMs: number;
  arriveMs: number;
}

/** A model output travelling back to the origin. */
export interface ResultRoute {
  tensor: string;
  fromStage: string;
  fromDevice: string;
  encoding: CutEncoding;
  bytes: number;
  sendMs: number;
  transferMs: number;
  arriveMs: number;
}

/**
 * A maximal group of tasks run back to back by one executor of one device. It starts once all
 * its inputs are there and never waits for another device in the middle; it sends its outputs
 * when it finishes. Only a stage's last task feeds other devices or executors, so stage-level
 * execution reproduces the task-level prediction exactly.
 */
export interface PlannedStage {
  id: string;
  device: string;
  worker: number;
  /** In execution order (a topological order). */
  tasks: string[];
  /** Indices into Plan.edges of the tensors it receives, and of those it sends. */
  inputs: number[];
  outputs: number[];
  /** Receives inputs from two or more stages: one executor must collect them all. */
  join: boolean;
  /** Produces a model output. */
  final: boolean;
  /** Input tasks whose data the device holds itself. */
  localInputs: string[];
  readyMs: number;
  startMs: number;
  /** Transfer time of the input that arrived last (0 when none crossed devices). */
  transferInMs: number;
  computeMs: number;
  finishMs: number;
  /** Compute energy of its device plus the radio energy of its transfers (sent and received). */
  energyJ: number;
}

export interface DeviceEnergy {
  totalJ: number;
  computeJ: number;
  idleJ: number;
  radioJ: number;
  computeMs: number;
  /** Time charged at idle power: the origin's wait for the result; a helper's radio time. */
  idleMs: number;
  radioMs: number;
}

export interface PlanDiagnostics {
  /** Wall time spent planning (the one non-deterministic field). */
  planningMs: number;
  /** true: proven optimal under the cost model; false: search stopped early; null: a heuristic. */
  optimal: boolean | null;
  /** Branch-and-bound nodes, when a search ran. */
  nodes?: number;
  /** For `auto`: the path that produced the plan, e.g. `heft+improve` or `exact`. */
  chosen?: string;
  notes: string[];
}

export interface Plan {
  algorithm: string;
  objective: Objective;
  constraints: Constraints;
  origin: string;
  modelId: string;
  /** task id -> device id. */
  placement: Record<string, string>;
  /** In the order the cost model schedules them (decreasing upward rank). */
  tasks: PlannedTask[];
  stages: PlannedStage[];
  edges: StageEdge[];
  results: ResultRoute[];
  /** End-to-end: until the last result reaches the origin. */
  predictedLatencyMs: number;
  /** device id -> joules, every device listed (0 when unused). */
  predictedEnergyJ: Record<string, number>;
  energy: Record<string, DeviceEnergy>;
  originEnergyJ: number;
  totalEnergyJ: number;
  /** device id -> bytes: weights of its tasks plus the largest working set among them. */
  memoryBytes: Record<string, number>;
  /** The objective's value (ms for latency, J for energy, the weighted sum otherwise). */
  cost: number;
  diagnostics: PlanDiagnostics;
}
