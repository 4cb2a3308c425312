/**
 * Busy time as flat lists of sorted, merged intervals [s0, e0, s1, e1, ...]: built from
 * [start, end] pairs, and searched for the first gap that holds a piece of work. Used by the
 * instance (executors' and links' busy time) and by the planner's link queues.
 */

/** [start, end] pairs sorted and merged into a flat list; empty and reversed pairs are left out. */
export function mergeIntervals(list: Array<[number, number]>): Float64Array {
  list.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [s, e] of list) {
    if (e <= s) continue;
    const k = out.length;
    if (k > 0 && s <= out[k - 1]!) out[k - 1] = Math.max(out[k - 1]!, e);
    else out.push(s, e);
  }
  return Float64Array.from(out);
}

/** Earliest start >= from of `duration` outside the sorted, merged intervals (flat [s0, e0, s1, e1, ...]). */
export function firstGap(busy: ArrayLike<number>, from: number, duration: number): number {
  let at = from;
  for (let i = 0; i < busy.length; i += 2) {
    if (busy[i + 1]! <= at) continue;
    if (at + duration <= busy[i]!) return at;
    at = busy[i + 1]!;
  }
  return at;
}
