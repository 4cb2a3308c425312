/**
 * The work a planner has placed on each device's executors, until its stages report: each piece
 * with its planned times and when its report is due, and an executor's busy time laid out again
 * from now on, late work pushing what follows — as link-queues.ts does with the data on links.
 * Kept per device by DeviceRegistry. Planner clock, plain arithmetic.
 */
import type { BusyInterval } from './core/types.ts';
import { standing } from './link-queues.ts';

export interface Busy {
  jobId: string;
  /** The stage the work belongs to: its report says it is done. */
  stageId: string;
  worker: number;
  startAtMs: number;
  endAtMs: number;
  /** When its stage's report is due if on time: its end, plus its outputs' time on the device's uplink (a stage reports once they are sent). */
  dueAtMs: number;
}

/**
 * Placed work whose stage has not reported is kept this long past its planned end at most (a
 * report lost on its way must not hold a device forever; the job's end clears it anyway).
 */
export const UNREPORTED_KEEP_MS = 30_000;

/**
 * The work placed on a device and not yet done, per executor, from now on. Work is done when
 * its stage reports (stageDone), not when its planned end passes: a device running late still
 * has it queued. So an executor's work is laid out again in planned order, each piece as long
 * as planned and none before the one ahead of it ends; a piece past its planned end counts
 * as `standing` (link-queues.ts) says: over while its report may still be on its way, then
 * from now for as long as the report is overdue, up to its whole — pushing what follows.
 * `others`: the other planners' jobs' work (ms per executor), ahead of this planner's on every
 * executor.
 */
export function layOutExecutorWork(busy: Busy[], nowMs: number, workers: number, others: number): BusyInterval[] {
  const out: BusyInterval[] = [];
  const byWorker = new Map<number, Busy[]>();
  for (const b of busy) {
    // Work placed when the device had more executors than now (one died) lands on one that is left.
    const w = b.worker % workers;
    const list = byWorker.get(w) ?? [];
    list.push(b);
    byWorker.set(w, list);
  }
  for (let w = 0; w < workers; w++) {
    if (others > 0) out.push({ startMs: 0, endMs: others, worker: w });
  }
  for (const [worker, list] of byWorker) {
    list.sort((a, b) => a.startAtMs - b.startAtMs);
    let free = others > 0 ? nowMs + others : Number.NEGATIVE_INFINITY;
    for (const b of list) {
      const st = standing(b.startAtMs, b.endAtMs, b.dueAtMs, nowMs);
      if (st.kind === 'done') continue;
      const start = Math.max(st.kind === 'late' ? nowMs : b.startAtMs, free);
      free = start + (st.kind === 'late' ? st.remainingMs : b.endAtMs - b.startAtMs);
      out.push({ startMs: Math.max(0, start - nowMs), endMs: free - nowMs, worker });
    }
  }
  return out;
}
