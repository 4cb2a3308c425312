/**
 * The newest attempt seen per job, so messages of a superseded attempt are ignored
 * everywhere. Bounded: the oldest jobs are forgotten first.
 */
export class AttemptTracker {
  private readonly latest = new Map<string, number>();
  private readonly cancelled = new Map<string, number>();

  constructor(private readonly maxJobs = 50_000) {}

  /** Records `attempt`; false when a newer attempt of the job exists or this one was cancelled. */
  observe(jobId: string, attempt: number): boolean {
    if ((this.cancelled.get(jobId) ?? -1) >= attempt) return false;
    const known = this.latest.get(jobId);
    if (known !== undefined && known > attempt) return false;
    if (known === undefined || attempt > known) {
      this.latest.delete(jobId);
      this.latest.set(jobId, attempt);
      if (this.latest.size > this.maxJobs) this.latest.delete(this.latest.keys().next().value as string);
    }
    return true;
  }

  isSuperseded(jobId: string, attempt: number): boolean {
    return (this.latest.get(jobId) ?? attempt) > attempt || (this.cancelled.get(jobId) ?? -1) >= attempt;
  }

  cancel(jobId: string, attempt: number): void {
    this.cancelled.set(jobId, Math.max(attempt, this.cancelled.get(jobId) ?? -1));
    if (this.cancelled.size > this.maxJobs) this.cancelled.delete(this.cancelled.keys().next().value as string);
  }
}
