/**
 * Job history kept on the device with lowdb: requests, plans, results and timings (no
 * tensors), in `<data-dir>/history.json`. Bounded: the oldest jobs go first.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { JSONFilePreset } from 'lowdb/node';
import type { Low } from 'lowdb';

export interface HistoryStage {
  stageId: string;
  deviceId: string;
  tasks: number;
  waitMs: number;
  transferInMs: number;
  computeMs: number;
  predictedComputeMs: number;
  predictedFinishMs: number;
  finishMs: number;
}

export interface HistoryRecord {
  jobId: string;
  origin: string;
  model: string;
  algorithm: string;
  objective: string;
  status: string;
  error?: string;
  submittedAt: string;
  latencyMs: number;
  predictedLatencyMs: number;
  placement: Record<string, string>;
  stages: HistoryStage[];
  energyJ: Record<string, { predicted: number; measured: number }>;
  top?: Array<{ index: number; label: string; probability: number }>;
  /** With lossy transport: the output's deviation from float32 transport. */
  lossy?: { maxAbs: number; maxRel: number };
}

interface HistoryData {
  jobs: HistoryRecord[];
}

export class JobHistory {
  private constructor(private readonly db: Low<HistoryData>, private readonly limit: number) {}

  static async open(dataDir: string, limit = 10_000): Promise<JobHistory> {
    await mkdir(dataDir, { recursive: true });
    const db = await JSONFilePreset<HistoryData>(join(dataDir, 'history.json'), { jobs: [] });
    if (!Array.isArray(db.data.jobs)) db.data = { jobs: [] };
    return new JobHistory(db, limit);
  }

  async add(...records: HistoryRecord[]): Promise<void> {
    this.db.data.jobs.push(...records);
    if (this.db.data.jobs.length > this.limit) this.db.data.jobs.splice(0, this.db.data.jobs.length - this.limit);
    await this.db.write();
  }

  get jobs(): readonly HistoryRecord[] {
    return this.db.data.jobs;
  }
}
