/** What a planner is started with, and the defaults of its timing rules. */
import type { Logger } from 'pino';
import type { BrokerConnection } from '../transport/mqtt-transport.ts';
import type { Objective, CostModelOptions } from './core/types.ts';
import type { PlannerKeys } from '../schemas/capability.ts';
import type { JobRequest } from '../schemas/generated/edgeweave.ts';

export interface PlannerServiceOptions extends BrokerConnection {
  id: string;
  /** Default algorithm for jobs that name none. */
  algorithm: string;
  /** Default objective for jobs that give none. */
  objective?: Objective;
  /** Model references (zoo names or model.json paths) beyond the zoo, by name. */
  models?: string[];
  cost?: CostModelOptions;
  /** Share group of the planners (default "planners"). */
  group?: string;
  /** Re-plans the planner starts on its own (device lost, no progress) before a job fails (default 3); an origin submitting again is bounded by its own deadline. */
  maxAttempts?: number;
  /** A job that shows no progress (no stage reported) for twice its prediction plus this long is judged (default 5 s). */
  overrunMs?: number;
  /** A device that says OFFLINE has this long to be back (same incarnation) before its jobs are planned anew (default 3 s). */
  lostGraceMs?: number;
  /** The signing key; default: a fresh one per start. */
  keys?: PlannerKeys;
  /** Mirror every published message as JSON under edgeweave/v1/debug/. */
  debugJson?: boolean;
  /** Publish each plan to its origin with the job's task DAG, for viewers (default: the plan alone, metadata only). */
  planDag?: boolean;
  log?: Logger;
}

/** A device that says OFFLINE has this long to be back as the same incarnation before its jobs move. */
export const DEFAULT_LOST_GRACE_MS = 3000;
/** How long a job without its own timeout may wait for devices to come back. */
export const DEFAULT_JOB_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_OVERRUN_MS = 5000;

/** How long a job may take in all, by its own timeout or the default. */
export function deadlineOf(request: JobRequest): number {
  return request.timeoutMs > 0 ? request.timeoutMs : DEFAULT_JOB_TIMEOUT_MS;
}

/** How the planner's parts publish: through its transport once connected (a publish before that goes nowhere). */
export type Publish = (topic: string, payload: Uint8Array, options: { qos: 0 | 1; retain?: boolean }) => Promise<void>;
