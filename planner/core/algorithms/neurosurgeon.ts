/**
 * Neurosurgeon (Kang et al., ASPLOS 2017): one split point. The first k tasks of the model (in
 * the priority order, which is topological) run on the origin and the rest on one server; the
 * best (server, k) under the objective wins. Exact among single splits for chains; for a DAG the
 * split is a cut of the topological order, as the paper applies it.
 * Large instances are pre-screened with the additive (serial) latency of each split, computed
 * for all k at once with prefix sums, and only the most promising splits are evaluated in full.
 */
import { failed, type AlgorithmResult } from '../algorithm.ts';
import { Evaluator } from '../evaluator.ts';
import type { Instance } from '../instance.ts';
import { compareScores, type Score } from '../objective.ts';

const FULL_EVALUATION_LIMIT = 600;
const SCREENED_PER_SERVER = 8;
const SCREENED_TOTAL = 32;

export function splitPlacement(inst: Instance, server: number, k: number, out: Int32Array = new Int32Array(inst.n)): Int32Array {
  const { D, origin } = inst;
  for (let i = 0; i < inst.n; i++) {
    const t = inst.order[i]!;
    if (inst.pinned[t]! >= 0) out[t] = inst.pinned[t]!;
    else {
      const want = i < k ? origin : server;
      const other = want === origin ? server : origin;
      out[t] = inst.allowed[t * D + want] || !inst.allowed[t * D + other] ? want : other;
    }
  }
  return out;
}

/** Serial latency of every split k = 0..n for one server. */
export function serialSplitLatencies(inst: Instance, server: number): Float64Array {
  const { n, D, origin, order, pos } = inst;
  const out = new Float64Array(n + 1);
  // Compute: prefix on origin, suffix on server.
  const prefixO = new Float64Array(n + 1);
  const suffixS = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefixO[i + 1] = prefixO[i]! + inst.compute[order[i]! * D + origin]!;
  for (let i = n - 1; i >= 0; i--) suffixS[i] = suffixS[i + 1]! + inst.compute[order[i]! * D + server]!;
  // Tensors crossing split k: produced at position i < k, consumed at some position >= k.
  const diff = new Float64Array(n + 2);
  for (let i = 0; i < n; i++) {
    const t = order[i]!;
    let last = -1;
    for (let s = inst.succStart[t]!; s < inst.succStart[t + 1]!; s++) last = Math.max(last, pos[inst.succTask[s]!]!);
    if (last > i) {
      const ms = inst.tensorBytes[t]! * inst.perByte[origin * D + server]! + inst.fixed[origin * D + server]!;
      diff[i + 1]! += ms;
      diff[last + 1]! -= ms;
    }
  }
  let crossing = 0;
  let lastOutputPos = -1;
  for (const o of inst.outputs) lastOutputPos = Math.max(lastOutputPos, pos[o]!);
  for (let k = 0; k <= n; k++) {
    crossing += diff[k]!;
    let result = 0;
    if (inst.returnResult && k <= lastOutputPos) {
      for (const o of inst.outputs) {
        if (pos[o]! >= k) result += inst.resultBytes[o]! * inst.perByte[server * D + origin]! + inst.fixed[server * D + origin]!;
      }
    }
    out[k] = prefixO[k]! + suffixS[k]! + crossing + result;
  }
  return out;
}

export function planNeurosurgeon(inst: Instance): AlgorithmResult {
  const { n, D, origin } = inst;
  const servers: number[] = [];
  for (let d = 0; d < D; d++) if (d !== origin) servers.push(d);
  if (servers.length === 0) {
    return failed({ code: 'E_NO_DEVICES', reason: 'no-device', message: 'neurosurgeon: there is no server besides the origin to split with' });
  }
  const candidates: Array<[number, number]> = [];
  if ((n + 1) * servers.length <= FULL_EVALUATION_LIMIT) {
    for (const s of servers) for (let k = 0; k <= n; k++) candidates.push([s, k]);
  } else {
    const screened: Array<[number, number, number]> = [];
    for (const s of servers) {
      const lat = serialSplitLatencies(inst, s);
      const ks = Array.from({ length: n + 1 }, (_, k) => k).sort((a, b) => lat[a]! - lat[b]!).slice(0, SCREENED_PER_SERVER);
      for (const k of ks) screened.push([s, k, lat[k]!]);
    }
    screened.sort((a, b) => a[2] - b[2]);
    for (const [s, k] of screened.slice(0, SCREENED_TOTAL)) candidates.push([s, k]);
    candidates.push([servers[0]!, n]);
  }
  const ev = new Evaluator(inst);
  const placement = new Int32Array(n);
  let best: { score: Score; s: number; k: number } | null = null;
  for (const [s, k] of candidates) {
    splitPlacement(inst, s, k, placement);
    const score = ev.score(placement);
    if (best === null || compareScores(score, best.score) < 0) best = { score: { ...score }, s, k };
  }
  const chosen = best!;
  const split = chosen.k >= n ? 'everything on the origin' : `split after ${chosen.k} of ${n} tasks, rest on "${inst.deviceIds[chosen.s]}"`;
  return { placement: splitPlacement(inst, chosen.s, chosen.k), optimal: null, notes: [split] };
}
