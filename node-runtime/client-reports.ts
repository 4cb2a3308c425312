/** The stage reports of a job client's jobs, kept for recent jobs after their result (reports may trail it), and waits on them. */
import type { StageReport } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError } from '../schemas/errors.ts';

/** Jobs whose reports are kept, at most; the oldest job's are dropped first. */
const KEPT_JOBS = 2000;

export class JobReports {
  private readonly byJob = new Map<string, StageReport[]>();
  private readonly waiters = new Set<() => void>();

  /** Starts the list of a job just submitted; reports of jobs not opened are not kept. */
  open(jobId: string): StageReport[] {
    const list: StageReport[] = [];
    this.byJob.set(jobId, list);
    if (this.byJob.size > KEPT_JOBS) this.byJob.delete(this.byJob.keys().next().value as string);
    return list;
  }

  /** Adds a report of a job; false when the job's reports are not kept here. */
  add(jobId: string, report: StageReport): boolean {
    const list = this.byJob.get(jobId);
    if (!list) return false;
    list.push(report);
    for (const w of this.waiters) w();
    return true;
  }

  /** Resolves when the job's reports satisfy `predicate`; rejects after `timeoutMs`. */
  waitFor(jobId: string, predicate: (reports: readonly StageReport[]) => boolean, timeoutMs: number): Promise<StageReport[]> {
    const list = this.byJob.get(jobId);
    if (!list) return Promise.reject(new EdgeweaveError('E_CONFIG', `no job ${jobId} was submitted by this client`));
    if (predicate(list)) return Promise.resolve(list);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(list)) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(list);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new EdgeweaveError('E_TIMEOUT', `reports of job ${jobId} did not arrive within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}
