/** Pure checks on task DAGs, shared by the models tests. */
import type { TaskGraph } from '../../schemas/graph.ts';

/** Checks the DAG's own consistency: topological order, matching preds/succs, known ids. */
export function assertConsistentGraph(graph: TaskGraph, fail: (message: string) => never): void {
  const seen = new Set<string>();
  const byId = new Map(graph.tasks.map((t) => [t.id, t]));
  if (byId.size !== graph.tasks.length) fail('duplicate task ids');
  for (const t of graph.tasks) {
    for (const p of t.preds) {
      if (!seen.has(p)) fail(`${t.id} comes before its predecessor ${p}`);
      if (!byId.get(p)!.succs.includes(t.id)) fail(`${p} does not list ${t.id} as a successor`);
    }
    for (const s of t.succs) if (!byId.get(s)?.preds.includes(t.id)) fail(`${s} does not list ${t.id} as a predecessor`);
    seen.add(t.id);
  }
  for (const id of [...graph.inputs, ...graph.outputs]) if (!byId.has(id)) fail(`unknown input/output ${id}`);
}
