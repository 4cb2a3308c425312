/**
 * The stages an executor has prepared, by (origin, job, attempt, stage). An assignment prepares
 * its device's stages once; a stage input finds its stage here (or, when it raced ahead of its
 * assignment, prepares it once from the plan it carries), so per message only the data is
 * handled. Attempts are dropped when cancelled or superseded and when their final stage is
 * done; the book holds at most `maxAttempts` attempts, none unused for longer than `maxIdleMs`.
 */
import type { JobPlan, StageSpec } from '../schemas/generated/edgeweave.ts';
import { jobKey } from './ledger.ts';
import type { PreparedStage } from './stage-prepare.ts';

export interface StageBookLimits {
  /** Attempts held at most; the oldest are dropped first (default 1024). */
  maxAttempts?: number;
  /** An attempt unused this long is dropped (default 10 min, well past a partial join's deadline). */
  maxIdleMs?: number;
}

interface AttemptEntry {
  stages: Map<string, PreparedStage>;
  usedAtMs: number;
}

export class StageBook {
  /** Attempts by job, then by attempt number. */
  private readonly jobs = new Map<string, Map<number, AttemptEntry>>();
  private attemptCount = 0;
  private readonly maxAttempts: number;
  private readonly maxIdleMs: number;
  /** Stages prepared to run here (each compiled once): for tests and status. */
  compiled = 0;

  constructor(private readonly prepare: (plan: JobPlan, spec: StageSpec) => PreparedStage, limits: StageBookLimits = {}) {
    this.maxAttempts = limits.maxAttempts ?? 1024;
    this.maxIdleMs = limits.maxIdleMs ?? 600_000;
  }

  /** Attempts held. */
  get size(): number {
    return this.attemptCount;
  }

  /** The prepared stage, if this executor has it. */
  find(origin: string, jobId: string, attempt: number, stageId: string, nowMs = Date.now()): PreparedStage | undefined {
    const entry = this.jobs.get(jobKey(origin, jobId))?.get(attempt);
    if (!entry) return undefined;
    entry.usedAtMs = nowMs;
    return entry.stages.get(stageId);
  }

  /** The stage `spec` of `plan` (checked already), prepared once: later calls return the same one. */
  stage(plan: JobPlan, spec: StageSpec, nowMs = Date.now()): PreparedStage {
    const entry = this.entry(plan.originDevice, plan.jobId, plan.attempt, nowMs);
    let prepared = entry.stages.get(spec.stageId);
    if (!prepared) {
      prepared = this.prepare(plan, spec);
      if (prepared.runs === 'here') this.compiled++;
      entry.stages.set(spec.stageId, prepared);
    }
    return prepared;
  }

  /** Drops an attempt (cancelled, or its final stage is done). */
  dropAttempt(origin: string, jobId: string, attempt: number): void {
    const key = jobKey(origin, jobId);
    const attempts = this.jobs.get(key);
    if (!attempts?.delete(attempt)) return;
    this.attemptCount--;
    if (attempts.size === 0) this.jobs.delete(key);
  }

  /** Drops the attempts of a job older than `attempt` (superseded by it). */
  dropOlder(origin: string, jobId: string, attempt: number): void {
    const key = jobKey(origin, jobId);
    const attempts = this.jobs.get(key);
    if (!attempts) return;
    for (const n of attempts.keys()) {
      if (n < attempt) {
        attempts.delete(n);
        this.attemptCount--;
      }
    }
    if (attempts.size === 0) this.jobs.delete(key);
  }

  /** Drops the attempts unused for longer than the idle limit. */
  expire(nowMs: number): void {
    const cutoff = nowMs - this.maxIdleMs;
    for (const [key, attempts] of this.jobs) {
      for (const [n, entry] of attempts) {
        if (entry.usedAtMs < cutoff) {
          attempts.delete(n);
          this.attemptCount--;
        }
      }
      if (attempts.size === 0) this.jobs.delete(key);
    }
  }

  private entry(origin: string, jobId: string, attempt: number, nowMs: number): AttemptEntry {
    const key = jobKey(origin, jobId);
    let attempts = this.jobs.get(key);
    if (!attempts) {
      attempts = new Map();
      this.jobs.set(key, attempts);
    }
    let entry = attempts.get(attempt);
    if (!entry) {
      entry = { stages: new Map(), usedAtMs: nowMs };
      attempts.set(attempt, entry);
      this.attemptCount++;
      if (this.attemptCount > this.maxAttempts) this.dropOldestJob(key);
    } else {
      entry.usedAtMs = nowMs;
    }
    return entry;
  }

  /** Makes room: drops the job held longest (never `keep`, the one being added to). */
  private dropOldestJob(keep: string): void {
    for (const [key, attempts] of this.jobs) {
      if (key === keep) continue;
      this.attemptCount -= attempts.size;
      this.jobs.delete(key);
      return;
    }
  }
}
