/**
 * A small dense simplex: maximise c·x subject to A x <= b, x >= 0, with b >= 0 (so the slack
 * basis is feasible and no first phase is needed). Bland's rule keeps it from cycling. Sized
 * for the planner's capacity question (tens of rows and columns), not for large programs.
 */

const EPS = 1e-12;

/** The optimal x, or undefined when the program is unbounded (or the iteration limit is hit). */
export function maximize(c: readonly number[], a: readonly (readonly number[])[], b: readonly number[], maxPivots = 10_000): number[] | undefined {
  const m = a.length;
  const n = c.length;
  if (b.some((v) => v < 0)) throw new RangeError('simplex: every right-hand side must be >= 0');
  // Tableau rows 0..m-1: [A | I | b]; row m: [-c | 0 | 0].
  const width = n + m + 1;
  const t: Float64Array[] = [];
  for (let i = 0; i < m; i++) {
    const row = new Float64Array(width);
    for (let j = 0; j < n; j++) row[j] = a[i]![j] ?? 0;
    row[n + i] = 1;
    row[width - 1] = b[i]!;
    t.push(row);
  }
  const z = new Float64Array(width);
  for (let j = 0; j < n; j++) z[j] = -c[j]!;
  t.push(z);
  const basis = Array.from({ length: m }, (_, i) => n + i);
  for (let pivots = 0; pivots < maxPivots; pivots++) {
    // Entering: the lowest-numbered column with a negative reduced cost (Bland).
    let enter = -1;
    for (let j = 0; j < n + m; j++) {
      if (z[j]! < -1e-10) {
        enter = j;
        break;
      }
    }
    if (enter < 0) {
      const x = new Array<number>(n).fill(0);
      basis.forEach((col, i) => {
        if (col < n) x[col] = t[i]![width - 1]!;
      });
      return x;
    }
    // Leaving: the minimum ratio, ties to the lowest basis column (Bland).
    let leave = -1;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < m; i++) {
      const coef = t[i]![enter]!;
      if (coef <= EPS) continue;
      const ratio = t[i]![width - 1]! / coef;
      if (ratio < best - 1e-12 || (Math.abs(ratio - best) <= 1e-12 && leave >= 0 && basis[i]! < basis[leave]!)) {
        best = ratio;
        leave = i;
      }
    }
    if (leave < 0) return undefined;
    const pivotRow = t[leave]!;
    const p = pivotRow[enter]!;
    for (let j = 0; j < width; j++) pivotRow[j]! /= p;
    for (let i = 0; i <= m; i++) {
      if (i === leave) continue;
      const row = t[i]!;
      const f = row[enter]!;
      if (f === 0) continue;
      for (let j = 0; j < width; j++) row[j]! -= f * pivotRow[j]!;
    }
    basis[leave] = enter;
  }
  return undefined;
}
