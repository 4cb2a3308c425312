/**
 * A camera-like stream of jobs from one origin: the same job submitted at a fixed rate for a
 * while, not waiting for earlier ones, and what came of them — throughput and latency
 * percentiles, and how many were refused, failed or timed out.
 */
import type { JobClient, JobOutcome } from './client.ts';
import { JobStatus, type JobRequestInit } from '../schemas/generated/edgeweave.ts';

export interface StreamOptions {
  /** Jobs per second. */
  ratePerS: number;
  durationMs: number;
  /** Wait this long before the first submission (streams of several origins out of step, as real cameras are). */
  phaseMs?: number;
  /** Called about once a second while the stream runs. */
  onProgress?: (p: { elapsedMs: number; submitted: number; done: number }) => void;
}

export interface StreamSummary {
  submitted: number;
  ok: number;
  rejected: number;
  failed: number;
  timedOut: number;
  /** Offered and completed (OK) jobs per second, over the time from the first submission to the last result. */
  offeredPerS: number;
  throughputPerS: number;
  /** Latency of the OK jobs, ms. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Rejections by error code. */
  refusedBy: Record<string, number>;
}

/** The q-quantile of `values` (nearest rank); NaN when there are none. */
export function percentile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
}

/** Submits `job` (each with its own id) at `ratePerS` for `durationMs`; resolves with every outcome once all are in. */
export async function streamJobs(client: JobClient, job: Omit<JobRequestInit, 'originDevice' | 'jobId'>, options: StreamOptions): Promise<JobOutcome[]> {
  const pending: Array<Promise<JobOutcome>> = [];
  if ((options.phaseMs ?? 0) > 0) await new Promise((r) => setTimeout(r, options.phaseMs));
  const start = Date.now();
  const total = Math.max(1, Math.round((options.durationMs / 1000) * options.ratePerS));
  let done = 0;
  let lastProgress = start;
  for (let k = 0; k < total; k++) {
    pending.push(client.submit(job).then((o) => {
      done++;
      return o;
    }));
    const now = Date.now();
    if (options.onProgress && now - lastProgress >= 1000) {
      lastProgress = now;
      options.onProgress({ elapsedMs: now - start, submitted: k + 1, done });
    }
    const next = start + ((k + 1) * 1000) / options.ratePerS;
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
  const ticker = options.onProgress ? setInterval(() => options.onProgress!({ elapsedMs: Date.now() - start, submitted: total, done }), 1000) : undefined;
  try {
    return await Promise.all(pending);
  } finally {
    if (ticker) clearInterval(ticker);
  }
}

/** What a stream came to; `wallMs` is the time from its first submission to its last outcome. */
export function summarizeStream(outcomes: readonly JobOutcome[], wallMs: number): StreamSummary {
  const ok = outcomes.filter((o) => o.result.status === JobStatus.JOB_STATUS_OK);
  const refusedBy: Record<string, number> = {};
  for (const o of outcomes) {
    if (o.result.status !== JobStatus.JOB_STATUS_REJECTED) continue;
    const code = o.result.error?.code ?? 'unknown';
    refusedBy[code] = (refusedBy[code] ?? 0) + 1;
  }
  const latencies = ok.map((o) => o.latencyMs);
  const first = Math.min(...outcomes.map((o) => o.submittedAtMs));
  const last = Math.max(...outcomes.map((o) => o.submittedAtMs));
  const spanS = Math.max(1e-3, (last - first) / 1000);
  return {
    submitted: outcomes.length,
    ok: ok.length,
    rejected: outcomes.filter((o) => o.result.status === JobStatus.JOB_STATUS_REJECTED).length,
    failed: outcomes.filter((o) => o.result.status === JobStatus.JOB_STATUS_FAILED).length,
    timedOut: outcomes.filter((o) => o.result.status === JobStatus.JOB_STATUS_TIMEOUT).length,
    offeredPerS: outcomes.length > 1 ? (outcomes.length - 1) / spanS : outcomes.length / Math.max(1e-3, wallMs / 1000),
    throughputPerS: ok.length / Math.max(1e-3, wallMs / 1000),
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
    p99Ms: percentile(latencies, 0.99),
    refusedBy,
  };
}
