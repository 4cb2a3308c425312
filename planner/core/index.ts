// The public surface of the planner core: pure functions over plain data, no I/O.
export { planJob, compareAlgorithms, isAlgorithmName, ALGORITHMS, ALGORITHM_NAMES } from './registry.ts';
export type { AlgorithmName, AlgorithmInfo, ComparedPlan } from './registry.ts';
export type {
  DeviceRole, RadioKind, PowerPresetName, RadioPowerModel, PowerSpec, PowerOverrides, DevicePower, LinkSpec,
  BusyInterval, DeviceSpec, Objective, ObjectiveKind, Constraints, CutEncoding, TransportOptions, CostModelOptions,
  SearchLimits, PlanRequest, InfeasibleReason, PlanIssue, PlanOutcome, PlannedTask, StageEdge, ResultRoute,
  PlannedStage, DeviceEnergy, PlanDiagnostics, Plan,
} from './types.ts';
export {
  RADIO_MODELS, POWER_PRESETS, POWER_PRESET_NAMES, RADIO_KINDS, DEFAULT_PRESET_BY_ROLE,
  resolveDevicePower, isPowerPresetName, isRadioKind,
} from '../../power/presets.ts';
export type { PowerPreset } from '../../power/presets.ts';
export {
  DEFAULT_REFERENCE_FLOPS_PER_SEC, DEFAULT_TASK_OVERHEAD_MS, estimateComputeMs, transferLegs, msPerByte,
} from './cost-model.ts';
export type { ComputeEstimateOptions, TransferLegs } from './cost-model.ts';
export { radioLegEnergyJ, cpuEnergyJ } from '../../power/energy.ts';
export { objectiveCost, objectiveLabel, compareScores } from './objective.ts';
export type { Score } from './objective.ts';
// Lower level, for tests, benchmarks and the planner service: instances, evaluation, searches.
export { buildInstance, DEFAULT_LIMITS, ENCODINGS } from './instance.ts';
export type { Instance, InstanceOutcome } from './instance.ts';
export { Evaluator } from './evaluator.ts';
export { buildPlan } from './build-plan.ts';
export { exactSearch } from './algorithms/exact.ts';
export type { ExactOptions, ExactResult } from './algorithms/exact.ts';
export { planAuto } from './algorithms/auto.ts';
export { chainBlocks } from './algorithms/chain-dp.ts';
export { checkGraph } from './validation.ts';
