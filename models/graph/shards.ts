/**
 * Splitting Dense layers into column shards. A layer L with units U split N ways becomes
 * tasks `L#0` .. `L#{N-1}` (kind DenseShard; shard i computes columns
 * [floor(i*U/N), floor((i+1)*U/N)) of x*W + b, without the activation) and a join task
 * `L` (kind DenseJoin) that concatenates them and applies L's activation. Consumers of L
 * still read the tensor `L`. Pure.
 */
import { EdgeweaveError } from '../../schemas/errors.ts';
import { activationFlopsPerElement, ConfigReader, numel } from '../layers/config.ts';
import type { LayerInfo } from './describe.ts';
import { FLOAT32_BYTES, replaceId, type WorkTask } from './work-task.ts';

/** Either a shard count per layer name, or: split every shardable layer above this many weight bytes. */
export type DenseShardSpec = Readonly<Record<string, number>> | { readonly maxParamBytes: number };

export const SHARD_SEPARATOR = '#';

export function shardId(layer: string, index: number): string {
  return `${layer}${SHARD_SEPARATOR}${index}`;
}

/** Columns [start, end) of shard `index` of `count` over `units` columns. */
export function shardColumns(units: number, index: number, count: number): [number, number] {
  return [Math.floor((index * units) / count), Math.floor(((index + 1) * units) / count)];
}

function isMaxBytes(spec: DenseShardSpec): spec is { readonly maxParamBytes: number } {
  return typeof (spec as { maxParamBytes?: unknown }).maxParamBytes === 'number';
}

/** Shard counts per layer name, validated against the model. */
export function resolveShardCounts(spec: DenseShardSpec, tasks: readonly WorkTask[], infos: ReadonlyMap<string, LayerInfo>): Map<string, number> {
  const counts = new Map<string, number>();
  if (isMaxBytes(spec)) {
    if (!(spec.maxParamBytes > 0)) throw new EdgeweaveError('E_CONFIG', `maxParamBytes must be positive, got ${spec.maxParamBytes}`);
    for (const t of tasks) {
      const info = infos.get(t.id);
      if (info?.kind.shardable === true && t.paramBytes > spec.maxParamBytes) counts.set(t.id, Math.ceil(t.paramBytes / spec.maxParamBytes));
    }
  } else {
    for (const [layer, n] of Object.entries(spec)) {
      const info = infos.get(layer);
      if (!info) throw new EdgeweaveError('E_CONFIG', `cannot shard "${layer}": the model has no such layer`);
      if (!info.kind.shardable) throw new EdgeweaveError('E_CONFIG', `cannot shard "${layer}": class ${info.node.className} cannot be split into column shards (Dense can)`);
      if (!Number.isInteger(n) || n < 1) throw new EdgeweaveError('E_CONFIG', `shard count for "${layer}" must be a whole number >= 1, got ${n}`);
      if (n > 1) counts.set(layer, n);
    }
  }
  for (const [layer, n] of counts) {
    const units = infos.get(layer)!.cost.outputShape.at(-1) ?? 0;
    if (n > units) throw new EdgeweaveError('E_CONFIG', `cannot split "${layer}" into ${n} shards: it has only ${units} units`);
  }
  return counts;
}

/** Replaces each sharded layer's task by its shards and a join. `tasks` is in topological order. */
export function applyDenseShards(tasks: readonly WorkTask[], counts: ReadonlyMap<string, number>, infos: ReadonlyMap<string, LayerInfo>): WorkTask[] {
  if (counts.size === 0) return [...tasks];
  const out: WorkTask[] = [];
  const renamed = new Map<string, string[]>();
  for (const t of tasks) {
    const preds = [...t.preds];
    const succs = [...t.succs];
    const n = counts.get(t.id);
    const info = infos.get(t.id);
    if (n === undefined || !info) {
      out.push({ ...t, preds, succs });
      continue;
    }
    const cfg = new ConfigReader(info.node.name, info.node.className, info.node.config);
    const input = info.inputShapes[0] ?? [];
    const fanIn = input.at(-1) ?? 0;
    const rows = numel(input.slice(0, -1));
    const units = t.outputShape.at(-1) ?? 0;
    const bias = cfg.bool('use_bias', true) ? 1 : 0;
    const inputBytes = numel(input) * FLOAT32_BYTES;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const [start, end] = shardColumns(units, i, n);
      const cols = end - start;
      const outputBytes = rows * cols * FLOAT32_BYTES;
      ids.push(shardId(t.id, i));
      out.push({
        id: shardId(t.id, i),
        kind: 'DenseShard',
        preds,
        succs: [t.id],
        outputShape: [...t.outputShape.slice(0, -1), cols],
        outputBytes,
        flops: rows * cols * (2 * fanIn + bias),
        paramBytes: (fanIn * cols + bias * cols) * FLOAT32_BYTES,
        activationBytes: inputBytes + outputBytes,
        layers: [t.id],
        cheap: false,
        fusable: false,
      });
    }
    renamed.set(t.id, ids);
    out.push({
      ...t,
      kind: 'DenseJoin',
      preds: ids,
      succs,
      flops: rows * units * activationFlopsPerElement(cfg.activation()),
      paramBytes: 0,
      activationBytes: 2 * t.outputBytes,
      cheap: false,
      fusable: false,
    });
  }
  // A producer of a sharded layer now feeds its shards (the shards themselves feed the join).
  const shardIds = new Set([...renamed.values()].flat());
  return out.map((t) => {
    let succs = t.succs;
    if (!shardIds.has(t.id)) for (const [layer, ids] of renamed) succs = replaceId(succs, layer, ids);
    return { ...t, succs };
  });
}
