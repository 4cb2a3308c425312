/** The mutable task record graph building works on, before it is frozen into a TaskNode. */
import type { TaskNode } from '../../schemas/graph.ts';

export interface WorkTask extends TaskNode {
  /** A single cheap layer (or a run of them): fused onto its producer when fusing runs. */
  cheap: boolean;
  /** May be merged with neighbours (false for inputs, shards and shard joins). */
  fusable: boolean;
  /** The block kind when this task's last layer is a merge (ResidualBlock, ConcatBlock). */
  blockKind?: string;
}

export const FLOAT32_BYTES = 4;

export function toTaskNode(t: WorkTask): TaskNode {
  const node: TaskNode = {
    id: t.id,
    kind: t.kind,
    preds: [...t.preds],
    succs: [...t.succs],
    outputShape: [...t.outputShape],
    outputBytes: t.outputBytes,
    flops: t.flops,
    paramBytes: t.paramBytes,
    activationBytes: t.activationBytes,
    layers: [...t.layers],
  };
  if (t.pinned !== undefined) node.pinned = t.pinned;
  return node;
}

/** Replaces `from` by the ids `to` (in place, keeping position, without duplicates) in a list of ids. */
export function replaceId(list: string[], from: string, to: readonly string[]): string[] {
  const out: string[] = [];
  for (const id of list) {
    for (const x of id === from ? to : [id]) if (!out.includes(x)) out.push(x);
  }
  return out;
}

/**
 * Peak bytes live while `members` run in order: the external inputs (held by the caller
 * throughout), each member's output until its last internal consumer, and the scratch each
 * member needs beyond its inputs and output.
 */
export function peakActivationBytes(members: readonly WorkTask[], byId: ReadonlyMap<string, WorkTask>): number {
  const ids = new Set(members.map((m) => m.id));
  const uses = new Map<string, number>();
  let live = 0;
  const external = new Set<string>();
  for (const m of members) {
    for (const p of m.preds) {
      if (ids.has(p)) uses.set(p, (uses.get(p) ?? 0) + 1);
      else if (!external.has(p)) {
        external.add(p);
        live += byId.get(p)?.outputBytes ?? 0;
      }
    }
  }
  let peak = live;
  for (const m of members) {
    const inputs = m.preds.reduce((s, p) => s + (byId.get(p)?.outputBytes ?? 0), 0);
    const scratch = Math.max(0, m.activationBytes - inputs - m.outputBytes);
    peak = Math.max(peak, live + m.outputBytes + scratch);
    live += m.outputBytes;
    for (const p of m.preds) {
      if (!ids.has(p)) continue;
      const left = (uses.get(p) ?? 0) - 1;
      uses.set(p, left);
      if (left === 0) live -= byId.get(p)?.outputBytes ?? 0;
    }
  }
  return peak;
}
