/** Merge layer kinds: several inputs, one output (the joins of a DAG). */
import { numel, sampleAxis, type ConfigReader, type Shape } from './config.ts';
import type { LayerCost, LayerKind } from './kind.ts';

function requireSeveral(cfg: ConfigReader, inputs: readonly Shape[]): void {
  if (inputs.length < 2) throw cfg.shapeError(`a merge layer needs at least two inputs, got ${inputs.length}`);
}

/** Broadcast shape of same-rank or trailing-aligned inputs (Keras merge semantics). */
function broadcast(cfg: ConfigReader, inputs: readonly Shape[]): number[] {
  const rank = Math.max(...inputs.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let dim = 1;
    for (const s of inputs) {
      const d = s[s.length - rank + i] ?? 1;
      if (d !== 1 && dim !== 1 && d !== dim) throw cfg.shapeError(`cannot merge shapes ${inputs.map((x) => `[${x.join(', ')}]`).join(' and ')}`);
      if (d !== 1) dim = d;
    }
    out.push(dim);
  }
  return out;
}

function elementwiseMerge(blockKind: string): LayerKind {
  return {
    cheap: false,
    shardable: false,
    blockKind,
    describe(cfg, inputs): LayerCost {
      requireSeveral(cfg, inputs);
      const outputShape = broadcast(cfg, inputs);
      return { outputShape, params: 0, flops: (inputs.length - 1) * numel(outputShape) };
    },
  };
}

const concatenate: LayerKind = {
  cheap: false,
  shardable: false,
  blockKind: 'ConcatBlock',
  describe(cfg, inputs): LayerCost {
    requireSeveral(cfg, inputs);
    const first = inputs[0] ?? [];
    const axis = sampleAxis(cfg, cfg.number('axis', -1), first.length);
    const outputShape = [...first];
    outputShape[axis] = 0;
    for (const s of inputs) {
      if (s.length !== first.length || s.some((d, i) => i !== axis && d !== first[i])) {
        throw cfg.shapeError(`cannot concatenate shapes ${inputs.map((x) => `[${x.join(', ')}]`).join(' and ')} on axis ${axis + 1}`);
      }
      outputShape[axis] = (outputShape[axis] ?? 0) + (s[axis] ?? 0);
    }
    return { outputShape, params: 0, flops: 0 };
  },
};

export const MERGE_KINDS: Readonly<Record<string, LayerKind>> = {
  Add: elementwiseMerge('ResidualBlock'),
  Average: elementwiseMerge('ResidualBlock'),
  Multiply: elementwiseMerge('GatedBlock'),
  Maximum: elementwiseMerge('MergeBlock'),
  Minimum: elementwiseMerge('MergeBlock'),
  Concatenate: concatenate,
};
