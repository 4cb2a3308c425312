/**
 * Fusion: a coarser DAG for planning. Two rules, applied in this order:
 *
 * 1. Blocks. For each task F with several successors, the tasks between F and the first
 *    task J where all of F's paths meet again (J post-dominates F) become one task, when
 *    that region has a single entry (every member's predecessors are F or members), no
 *    member but J feeds anything outside or is a model output, and it has at most
 *    `maxBlockLayers` layers. A ResNet residual block, an Inception module.
 * 2. Runs. A cheap task (elementwise, reshape, pooling) with one predecessor P, where P has
 *    that task as its only successor and is not a model output, is merged into P.
 *    Conv -> BatchNorm -> ReLU -> Pool becomes one task.
 *
 * A fused task keeps the id of its last layer, so the tensor it produces has the same name
 * in the fused and unfused DAGs. Inputs, shards and shard joins are never fused. Pure.
 */
import { peakActivationBytes, replaceId, type WorkTask } from './work-task.ts';

export const DEFAULT_MAX_BLOCK_LAYERS = 64;

function layerCount(tasks: Iterable<WorkTask>): number {
  let n = 0;
  for (const t of tasks) n += t.layers.length;
  return n;
}

/** Members of the block that starts at list[forkIndex], in order, the last being the join; or null. */
function findBlock(list: readonly WorkTask[], forkIndex: number, outputs: ReadonlySet<string>, maxLayers: number): WorkTask[] | null {
  const fork = list[forkIndex]!;
  const members: WorkTask[] = [];
  const inside = new Set<string>([fork.id]);
  let open = fork.succs.length;
  for (let j = forkIndex + 1; j < list.length; j++) {
    const t = list[j]!;
    const fromInside = t.preds.filter((p) => inside.has(p)).length;
    if (fromInside === 0) continue;
    if (fromInside !== t.preds.length || !t.fusable) return null;
    members.push(t);
    inside.add(t.id);
    if (layerCount(members) > maxLayers) return null;
    open -= fromInside;
    if (open === 0) return members.length >= 2 ? members : null;
    if (outputs.has(t.id)) return null;
    open += t.succs.length;
  }
  return null;
}

function mergedTask(members: readonly WorkTask[], byId: ReadonlyMap<string, WorkTask>, kind: string, preds: string[]): WorkTask {
  const exit = members[members.length - 1]!;
  return {
    id: exit.id,
    kind,
    preds,
    succs: [...exit.succs],
    outputShape: [...exit.outputShape],
    outputBytes: exit.outputBytes,
    flops: members.reduce((s, m) => s + m.flops, 0),
    paramBytes: members.reduce((s, m) => s + m.paramBytes, 0),
    activationBytes: peakActivationBytes(members, byId),
    layers: members.flatMap((m) => m.layers),
    cheap: members.every((m) => m.cheap),
    fusable: true,
  };
}

function fuseBlocks(tasks: readonly WorkTask[], outputs: ReadonlySet<string>, maxLayers: number): WorkTask[] {
  let list = [...tasks];
  for (let i = 0; i < list.length; i++) {
    const fork = list[i]!;
    if (fork.succs.length < 2) continue;
    const members = findBlock(list, i, outputs, maxLayers);
    if (!members) continue;
    const byId = new Map(list.map((t) => [t.id, t]));
    const join = members[members.length - 1]!;
    const block = mergedTask(members, byId, join.blockKind ?? 'Block', [fork.id]);
    block.cheap = false;
    const ids = new Set(members.map((m) => m.id));
    list = list.flatMap((t) => {
      if (t.id === join.id) return [block];
      if (ids.has(t.id)) return [];
      if (t.id === fork.id) return [{ ...t, succs: [...new Set(t.succs.map((s) => (ids.has(s) ? join.id : s)))] }];
      return [t];
    });
  }
  return list;
}

function fuseRuns(tasks: readonly WorkTask[], outputs: ReadonlySet<string>): WorkTask[] {
  const list: Array<WorkTask | undefined> = [...tasks];
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const byId = new Map(tasks.map((t) => [t.id, t]));
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!;
    if (!t.cheap || !t.fusable || t.preds.length !== 1) continue;
    const p = byId.get(t.preds[0]!)!;
    if (!p.fusable || p.succs.length !== 1 || outputs.has(p.id)) continue;
    const kind = p.layers.length > 1 || p.kind.endsWith('+') ? p.kind : `${p.kind}+`;
    const merged = mergedTask([p, t], byId, kind, [...p.preds]);
    merged.cheap = p.cheap && t.cheap;
    list[i] = merged;
    list[index.get(p.id)!] = undefined;
    byId.delete(p.id);
    byId.set(merged.id, merged);
    for (const q of p.preds) {
      const pred = byId.get(q)!;
      const updated = { ...pred, succs: replaceId(pred.succs, p.id, [t.id]) };
      list[index.get(q)!] = updated;
      byId.set(q, updated);
    }
  }
  return list.filter((t): t is WorkTask => t !== undefined);
}

/** The fused DAG of `tasks` (in topological order); `outputs` are the model's output task ids. */
export function fuseTasks(tasks: readonly WorkTask[], outputs: readonly string[], maxBlockLayers = DEFAULT_MAX_BLOCK_LAYERS): WorkTask[] {
  const out = new Set(outputs);
  return fuseRuns(fuseBlocks(tasks, out, maxBlockLayers), out);
}
