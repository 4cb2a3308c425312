/**
 * Layer graph -> task DAG (schemas/graph.ts TaskGraph): one task per layer with its
 * predecessors, successors, output shape and bytes, parameter bytes, FLOPs and peak
 * activation memory; then optional Dense shards, then optional fusion. Pure: it reads the
 * topology only, so it never allocates weights.
 */
import type { TaskGraph } from '../../schemas/graph.ts';
import { numel } from '../layers/config.ts';
import { describeLayers, type LayerInfo } from './describe.ts';
import { DEFAULT_MAX_BLOCK_LAYERS, fuseTasks } from './fuse.ts';
import { applyDenseShards, resolveShardCounts, type DenseShardSpec } from './shards.ts';
import type { LayerGraph } from './topology.ts';
import { FLOAT32_BYTES, toTaskNode, type WorkTask } from './work-task.ts';

export interface GraphOptions {
  /** Fuse blocks and runs of cheap layers into coarser tasks (see fuse.ts). */
  fused?: boolean | undefined;
  /** Split Dense layers into column shards (see shards.ts). */
  denseShards?: DenseShardSpec | undefined;
  /** Largest fork-join block fused into one task, in layers (default 64). */
  maxBlockLayers?: number | undefined;
}

function layerTasks(graph: LayerGraph, infos: ReadonlyMap<string, LayerInfo>): WorkTask[] {
  const succs = new Map<string, string[]>(graph.layers.map((l) => [l.name, []]));
  for (const l of graph.layers) {
    for (const src of new Set(l.inbound)) succs.get(src)!.push(l.name);
  }
  return graph.layers.map((l) => {
    const info = infos.get(l.name)!;
    const preds = [...new Set(l.inbound)];
    const outputBytes = numel(info.cost.outputShape) * FLOAT32_BYTES;
    const inputBytes = preds.reduce((s, p) => s + numel(infos.get(p)!.cost.outputShape) * FLOAT32_BYTES, 0);
    const task: WorkTask = {
      id: l.name,
      kind: l.className,
      preds,
      succs: succs.get(l.name)!,
      outputShape: [...info.cost.outputShape],
      outputBytes,
      flops: info.cost.flops,
      paramBytes: info.cost.params * FLOAT32_BYTES,
      activationBytes: inputBytes + outputBytes,
      layers: [l.name],
      cheap: info.kind.cheap,
      fusable: info.kind.input !== true,
    };
    if (info.kind.blockKind !== undefined) task.blockKind = info.kind.blockKind;
    return task;
  });
}

/** The task DAG of a normalised layer graph. */
export function buildTaskGraph(graph: LayerGraph, modelId: string, options: GraphOptions = {}): TaskGraph {
  const infos = describeLayers(graph);
  let tasks = layerTasks(graph, infos);
  if (options.denseShards) tasks = applyDenseShards(tasks, resolveShardCounts(options.denseShards, tasks, infos), infos);
  if (options.fused === true) tasks = fuseTasks(tasks, graph.outputs, options.maxBlockLayers ?? DEFAULT_MAX_BLOCK_LAYERS);
  return { modelId, tasks: tasks.map(toTaskNode), inputs: [...graph.inputs], outputs: [...graph.outputs] };
}
