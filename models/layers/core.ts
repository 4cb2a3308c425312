/** Core layer kinds: InputLayer, Dense, Flatten, Reshape, Permute. */
import { activationFlopsPerElement, numel, sampleAxis, single, type ConfigReader, type Shape } from './config.ts';
import type { LayerCost, LayerKind } from './kind.ts';

/** The per-sample input shape an InputLayer (or the first layer of a Sequential) declares. */
export function declaredInputShape(cfg: ConfigReader): Shape {
  let dims: unknown[] | undefined;
  for (const key of ['batch_input_shape', 'batch_shape']) {
    const v = cfg.raw(key);
    if (Array.isArray(v)) dims = v.slice(1);
  }
  if (!dims && Array.isArray(cfg.raw('input_shape'))) dims = cfg.raw('input_shape') as unknown[];
  if (!dims) throw cfg.shapeError('declares no input shape (batch_input_shape)');
  if (!dims.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0)) {
    throw cfg.shapeError(`input shape [${dims.map((d) => (d === null ? 'None' : String(d))).join(', ')}] has a dimension that is not fixed; edgeweave needs fixed input shapes`);
  }
  return dims as number[];
}

const inputLayer: LayerKind = {
  cheap: false,
  shardable: false,
  input: true,
  describe(cfg): LayerCost {
    return { outputShape: declaredInputShape(cfg), params: 0, flops: 0 };
  },
};

const dense: LayerKind = {
  cheap: false,
  shardable: true,
  describe(cfg, inputs): LayerCost {
    const x = single(cfg, inputs);
    const units = cfg.number('units');
    const fanIn = x[x.length - 1];
    if (fanIn === undefined) throw cfg.shapeError('expects an input of rank 2 or more');
    const bias = cfg.bool('use_bias', true);
    const rows = numel(x.slice(0, -1));
    return {
      outputShape: [...x.slice(0, -1), units],
      params: fanIn * units + (bias ? units : 0),
      flops: rows * units * (2 * fanIn + (bias ? 1 : 0) + activationFlopsPerElement(cfg.activation())),
    };
  },
};

const flatten: LayerKind = {
  cheap: true,
  shardable: false,
  describe(cfg, inputs): LayerCost {
    return { outputShape: [numel(single(cfg, inputs))], params: 0, flops: 0 };
  },
};

const reshape: LayerKind = {
  cheap: true,
  shardable: false,
  describe(cfg, inputs): LayerCost {
    const total = numel(single(cfg, inputs));
    const target = cfg.list('target_shape');
    const known = numel(target.filter((d) => d !== -1));
    const free = target.filter((d) => d === -1).length;
    const outputShape = target.map((d) => (d === -1 ? total / known : d));
    if (free > 1 || numel(outputShape) !== total || !outputShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw cfg.shapeError(`cannot reshape ${total} elements to [${target.join(', ')}]`);
    }
    return { outputShape, params: 0, flops: 0 };
  },
};

const permute: LayerKind = {
  cheap: true,
  shardable: false,
  describe(cfg, inputs): LayerCost {
    const x = single(cfg, inputs);
    const dims = cfg.list('dims');
    const outputShape = dims.map((d) => x[sampleAxis(cfg, d, x.length)] ?? 0);
    return { outputShape, params: 0, flops: numel(x) };
  },
};

export const CORE_KINDS: Readonly<Record<string, LayerKind>> = {
  InputLayer: inputLayer,
  Dense: dense,
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
};
