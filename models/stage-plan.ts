/**
 * What a stage (a set of tasks of a TaskGraph) computes, as plain data: the tensors it needs,
 * the tensors it produces, and the layer-level steps in between. Pure; the tfjs executor
 * (stage.ts) binds these steps to layers once.
 *
 * Tensor naming: a tensor is named by the id of the task that produces it. A model input is
 * named by its input task's id (the InputLayer's name); a fused task's id is its last
 * layer's name; shard i of a split Dense layer L produces `L#i`, and the join keeps `L`.
 * So the same tensor has the same name in the fused, unfused and sharded DAGs.
 */
import { EdgeweaveError } from '../schemas/errors.ts';
import type { TaskGraph, TaskNode } from '../schemas/graph.ts';
import { SHARD_SEPARATOR } from './graph/shards.ts';
import type { LayerGraph } from './graph/topology.ts';

export type StageStep =
  /** Apply model layer `layer` to the named tensors. */
  | { op: 'layer'; layer: string; inputs: string[]; output: string }
  /** Columns of shard `index` of `count` of Dense layer `layer`, without its activation. */
  | { op: 'shard'; layer: string; index: number; count: number; inputs: [string]; output: string }
  /** Concatenate the shards of `layer` and apply its activation. */
  | { op: 'join'; layer: string; inputs: string[]; output: string };

export interface StagePlan {
  /** The stage's task ids, in the graph's topological order. */
  taskIds: string[];
  /** Tensors the stage consumes, in the graph's order of their producers. */
  inputNames: string[];
  /** Tensors the stage produces for tasks outside it (and model outputs it computes). */
  outputNames: string[];
  /** Per-sample shape of every input and output tensor. */
  shapes: Record<string, number[]>;
  steps: StageStep[];
}

function stageError(message: string): EdgeweaveError {
  return new EdgeweaveError('E_STAGE', message);
}

/** Shard counts and index of every shard task, from the graph (kind DenseShard, id `L#i`). */
function shardsOf(graph: TaskGraph): Map<string, string[]> {
  const byLayer = new Map<string, string[]>();
  for (const t of graph.tasks) {
    if (t.kind !== 'DenseShard') continue;
    const layer = t.layers[0];
    if (layer === undefined || !t.id.startsWith(`${layer}${SHARD_SEPARATOR}`)) throw stageError(`shard task ${t.id} does not name its layer`);
    const list = byLayer.get(layer) ?? [];
    list.push(t.id);
    byLayer.set(layer, list);
  }
  for (const [layer, ids] of byLayer) {
    ids.sort((a, b) => Number(a.slice(layer.length + 1)) - Number(b.slice(layer.length + 1)));
    ids.forEach((id, i) => {
      if (id !== `${layer}${SHARD_SEPARATOR}${i}`) throw stageError(`shards of ${layer} are not numbered 0..${ids.length - 1}`);
    });
  }
  return byLayer;
}

/** Throws unless no path leaves the set and comes back (a stage must run without waiting on itself). */
function checkConvex(inSet: ReadonlySet<string>, byId: ReadonlyMap<string, TaskNode>): void {
  const seen = new Set<string>();
  const frontier: string[] = [];
  for (const id of inSet) for (const s of byId.get(id)!.succs) if (!inSet.has(s)) frontier.push(s);
  while (frontier.length > 0) {
    const id = frontier.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const s of byId.get(id)?.succs ?? []) {
      if (inSet.has(s)) throw stageError(`task ${s} depends on task ${id}, which is outside the stage but depends on the stage: split the stage there`);
      frontier.push(s);
    }
  }
}

export function planStage(graph: TaskGraph, layerGraph: LayerGraph, taskIds: readonly string[]): StagePlan {
  if (taskIds.length === 0) throw stageError('a stage needs at least one task');
  const byId = new Map(graph.tasks.map((t) => [t.id, t]));
  const order = new Map(graph.tasks.map((t, i) => [t.id, i]));
  const inSet = new Set(taskIds);
  if (inSet.size !== taskIds.length) throw stageError('a stage lists a task twice');
  for (const id of inSet) if (!byId.has(id)) throw stageError(`the graph of ${graph.modelId} has no task ${id}`);
  checkConvex(inSet, byId);

  const layers = new Map(layerGraph.layers.map((l) => [l.name, l]));
  const modelInputs = new Set(graph.inputs);
  const modelOutputs = new Set(graph.outputs);
  const shards = shardsOf(graph);
  const tasks = [...inSet].sort((a, b) => order.get(a)! - order.get(b)!).map((id) => byId.get(id)!);

  const inputs = new Set<string>();
  const outputs: string[] = [];
  const steps: StageStep[] = [];
  const produced = new Set<string>();
  for (const t of tasks) {
    for (const p of t.preds) if (!inSet.has(p)) inputs.add(p);
    if (modelInputs.has(t.id)) {
      inputs.add(t.id);
    } else if (t.kind === 'DenseShard') {
      const layer = t.layers[0]!;
      const ids = shards.get(layer)!;
      const src = layers.get(layer)?.inbound;
      if (src?.length !== 1 || t.preds.length !== 1 || t.preds[0] !== src[0]) throw stageError(`shard ${t.id} must consume ${layer}'s input`);
      steps.push({ op: 'shard', layer, index: ids.indexOf(t.id), count: ids.length, inputs: [src[0]!], output: t.id });
      produced.add(t.id);
    } else {
      for (const name of t.layers) {
        const node = layers.get(name);
        if (!node) throw stageError(`task ${t.id} names layer ${name}, which the model does not have`);
        const shardIds = shards.get(name);
        const stepInputs = shardIds ?? node.inbound;
        for (const src of stepInputs) {
          if (!produced.has(src) && !inputs.has(src)) {
            throw stageError(`task ${t.id}: layer ${name} needs ${src}, which is neither computed earlier in the task nor a predecessor's output`);
          }
        }
        steps.push(shardIds ? { op: 'join', layer: name, inputs: [...shardIds], output: name } : { op: 'layer', layer: name, inputs: [...node.inbound], output: name });
        produced.add(name);
      }
      if (!produced.has(t.id)) throw stageError(`task ${t.id} does not end with its own layer (a task's id names the tensor it produces)`);
    }
    if (modelOutputs.has(t.id) || t.succs.some((s) => !inSet.has(s))) outputs.push(t.id);
  }

  const inputNames = [...inputs].sort((a, b) => order.get(a)! - order.get(b)!);
  const shapes: Record<string, number[]> = {};
  for (const name of [...inputNames, ...outputs]) shapes[name] = [...(byId.get(name)?.outputShape ?? [])];
  return { taskIds: tasks.map((t) => t.id), inputNames, outputNames: outputs, shapes, steps };
}
