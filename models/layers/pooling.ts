/** Pooling, padding, cropping and upsampling layer kinds (all cheap, no weights). */
import { numel, single, windowOutputLength, type ConfigReader, type Shape } from './config.ts';
import type { LayerCost, LayerKind } from './kind.ts';

function poolKind(rank: number): LayerKind {
  return {
    cheap: true,
    shardable: false,
    describe(cfg, inputs): LayerCost {
      cfg.requireChannelsLast();
      const x = single(cfg, inputs);
      if (x.length !== rank + 1) throw cfg.shapeError(`expects a rank-${rank + 2} input, got [${x.join(', ')}] per sample`);
      const pool = cfg.tuple('pool_size', rank, Array.from({ length: rank }, () => 2));
      const strides = cfg.has('strides') ? cfg.tuple('strides', rank) : pool;
      const padding = cfg.string('padding', 'valid');
      if (padding !== 'same' && padding !== 'valid') throw cfg.unsupported(`padding "${padding}"`);
      const spatial = pool.map((p, i) => windowOutputLength(x[i] ?? 0, p, strides[i] ?? p, padding));
      if (spatial.some((d) => !(d > 0))) throw cfg.shapeError(`input [${x.join(', ')}] is too small for its pool`);
      const outputShape = [...spatial, x[rank] ?? 0];
      return { outputShape, params: 0, flops: numel(outputShape) * numel(pool) };
    },
  };
}

function globalPoolKind(rank: number): LayerKind {
  return {
    cheap: true,
    shardable: false,
    describe(cfg, inputs): LayerCost {
      cfg.requireChannelsLast();
      const x = single(cfg, inputs);
      if (x.length !== rank + 1) throw cfg.shapeError(`expects a rank-${rank + 2} input, got [${x.join(', ')}] per sample`);
      const channels = x[rank] ?? 0;
      const keep = cfg.bool('keepdims', false);
      return { outputShape: keep ? [...x.slice(0, rank).map(() => 1), channels] : [channels], params: 0, flops: numel(x) };
    },
  };
}

/** [[top, bottom], [left, right]] from an int, a pair of ints or a pair of pairs. */
function readPairs(cfg: ConfigReader, key: string, fallback: number): [[number, number], [number, number]] {
  const v = cfg.raw(key);
  if (v === undefined || v === null) return [[fallback, fallback], [fallback, fallback]];
  if (typeof v === 'number') return [[v, v], [v, v]];
  if (Array.isArray(v) && v.length === 2) {
    const [a, b] = v as unknown[];
    if (typeof a === 'number' && typeof b === 'number') return [[a, a], [b, b]];
    if (Array.isArray(a) && Array.isArray(b) && a.length === 2 && b.length === 2 && [...a, ...b].every((n) => typeof n === 'number')) {
      return [[a[0] as number, a[1] as number], [b[0] as number, b[1] as number]];
    }
  }
  throw cfg.shapeError(`malformed ${key}: ${JSON.stringify(v)}`);
}

function spatial2D(cfg: ConfigReader, inputs: readonly Shape[]): [number, number, number] {
  cfg.requireChannelsLast();
  const x = single(cfg, inputs);
  if (x.length !== 3) throw cfg.shapeError(`expects a rank-4 input, got [${x.join(', ')}] per sample`);
  return [x[0] ?? 0, x[1] ?? 0, x[2] ?? 0];
}

const zeroPadding2D: LayerKind = {
  cheap: true,
  shardable: false,
  describe(cfg, inputs): LayerCost {
    const [h, w, c] = spatial2D(cfg, inputs);
    const [[t, b], [l, r]] = readPairs(cfg, 'padding', 1);
    return { outputShape: [h + t + b, w + l + r, c], params: 0, flops: 0 };
  },
};

const cropping2D: LayerKind = {
  cheap: true,
  shardable: false,
  describe(cfg, inputs): LayerCost {
    const [h, w, c] = spatial2D(cfg, inputs);
    const [[t, b], [l, r]] = readPairs(cfg, 'cropping', 0);
    const outputShape = [h - t - b, w - l - r, c];
    if (outputShape.some((d) => !(d > 0))) throw cfg.shapeError('crops away the whole input');
    return { outputShape, params: 0, flops: 0 };
  },
};

const upSampling2D: LayerKind = {
  cheap: true,
  shardable: false,
  describe(cfg, inputs): LayerCost {
    const [h, w, c] = spatial2D(cfg, inputs);
    const [sh, sw] = cfg.tuple('size', 2, [2, 2]);
    const outputShape = [h * (sh ?? 2), w * (sw ?? 2), c];
    return { outputShape, params: 0, flops: cfg.string('interpolation', 'nearest') === 'nearest' ? 0 : 4 * numel(outputShape) };
  },
};

export const POOLING_KINDS: Readonly<Record<string, LayerKind>> = {
  MaxPooling1D: poolKind(1),
  AveragePooling1D: poolKind(1),
  MaxPooling2D: poolKind(2),
  AveragePooling2D: poolKind(2),
  GlobalAveragePooling1D: globalPoolKind(1),
  GlobalMaxPooling1D: globalPoolKind(1),
  GlobalAveragePooling2D: globalPoolKind(2),
  GlobalMaxPooling2D: globalPoolKind(2),
  ZeroPadding2D: zeroPadding2D,
  Cropping2D: cropping2D,
  UpSampling2D: upSampling2D,
};
