/**
 * The task DAG of a model, as plain data. `models/` produces it from a LayersModel;
 * the planner core consumes it; JobRequest.tasks carries it on the wire.
 */

/** One task: a layer, a fused block of layers, or one shard of a split Dense layer. */
export interface TaskNode {
  id: string;
  /** Layer class ('Conv2D', 'Dense', 'Add', 'InputLayer', ...) or a block kind ('ResidualBlock', 'DenseShard', ...). */
  kind: string;
  /** Predecessor task ids, in the order the task consumes their outputs. */
  preds: string[];
  /** Successor task ids. */
  succs: string[];
  /** Output shape for one sample, batch dimension excluded. */
  outputShape: number[];
  /** Bytes of the output as float32 for one sample. */
  outputBytes: number;
  /** Floating-point operations for one sample (a multiply-add counts 2). */
  flops: number;
  /** Bytes of the task's weights as float32. */
  paramBytes: number;
  /** Peak working memory while the task runs: its inputs, output and scratch, in bytes. */
  activationBytes: number;
  /** Names of the model layers this task covers (one, unless fused or sharded). */
  layers: string[];
  /** Device that must run this task (an input held by that device), if any. */
  pinned?: string;
}

export interface TaskGraph {
  /** Model identity (zoo name or model id). */
  modelId: string;
  /** Tasks in a topological order. */
  tasks: TaskNode[];
  /** Input task ids, in the model's input order. */
  inputs: string[];
  /** Task ids whose outputs are the model's outputs, in the model's output order. */
  outputs: string[];
}
