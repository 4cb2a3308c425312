/**
 * Brute force: every placement of every task on every device it may take, scored by the
 * evaluator. The reference `exact` must match on small instances.
 */
import { compareScores, Evaluator, type Instance, type Score } from '../../planner/core/index.ts';

export function bruteForce(inst: Instance): { placement: Int32Array; score: Score } | null {
  const { n, D } = inst;
  const choices: number[][] = [];
  for (let t = 0; t < n; t++) {
    const list: number[] = [];
    for (let d = 0; d < D; d++) if (inst.allowed[t * D + d]) list.push(d);
    choices.push(list);
  }
  const digit = new Int32Array(n);
  const placement = new Int32Array(n);
  const ev = new Evaluator(inst);
  let best: { placement: Int32Array; score: Score } | null = null;
  for (;;) {
    for (let t = 0; t < n; t++) placement[t] = choices[t]![digit[t]!]!;
    const score = ev.score(placement);
    if (score.memViolation === 0 && score.constraintViolation === 0 && (best === null || compareScores(score, best.score) < 0)) {
      best = { placement: Int32Array.from(placement), score: { ...score } };
    }
    let t = 0;
    while (t < n) {
      digit[t]!++;
      if (digit[t]! < choices[t]!.length) break;
      digit[t] = 0;
      t++;
    }
    if (t === n) return best;
  }
}
