/** Convolution layer kinds: Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D. */
import { activationFlopsPerElement, numel, single, windowOutputLength, type ConfigReader, type Shape } from './config.ts';
import type { LayerCost, LayerKind } from './kind.ts';

interface Window {
  kernel: number[];
  strides: number[];
  dilation: number[];
  padding: string;
}

function readWindow(cfg: ConfigReader, rank: number): Window {
  cfg.requireChannelsLast();
  const kernel = cfg.tuple('kernel_size', rank);
  const strides = cfg.tuple('strides', rank, Array.from({ length: rank }, () => 1));
  const dilation = cfg.tuple('dilation_rate', rank, Array.from({ length: rank }, () => 1));
  const padding = cfg.string('padding', 'valid');
  if (padding !== 'same' && padding !== 'valid' && !(padding === 'causal' && rank === 1)) throw cfg.unsupported(`padding "${padding}"`);
  if (cfg.has('groups') && cfg.number('groups') !== 1) throw cfg.unsupported(`groups=${cfg.number('groups')}`);
  return { kernel, strides, dilation, padding };
}

/** Spatial output dims for an input of shape [...spatial, channels]. */
function spatialOut(cfg: ConfigReader, input: Shape, w: Window): number[] {
  const rank = w.kernel.length;
  if (input.length !== rank + 1) throw cfg.shapeError(`expects a rank-${rank + 2} input, got shape [${input.join(', ')}] per sample`);
  const out = w.kernel.map((k, i) => windowOutputLength(input[i] ?? 0, k, w.strides[i] ?? 1, w.padding, w.dilation[i] ?? 1));
  if (out.some((d) => !(d > 0))) throw cfg.shapeError(`input [${input.join(', ')}] is too small for its window`);
  return out;
}

function convKind(rank: number): LayerKind {
  return {
    cheap: false,
    shardable: false,
    describe(cfg, inputs): LayerCost {
      const x = single(cfg, inputs);
      const w = readWindow(cfg, rank);
      const filters = cfg.number('filters');
      const cin = x[rank] ?? 0;
      const outputShape = [...spatialOut(cfg, x, w), filters];
      const bias = cfg.bool('use_bias', true);
      const window = numel(w.kernel) * cin;
      const positions = numel(outputShape);
      return {
        outputShape,
        params: window * filters + (bias ? filters : 0),
        flops: positions * (2 * window + (bias ? 1 : 0) + activationFlopsPerElement(cfg.activation())),
      };
    },
  };
}

const depthwiseConv2D: LayerKind = {
  cheap: false,
  shardable: false,
  describe(cfg, inputs): LayerCost {
    const x = single(cfg, inputs);
    const w = readWindow(cfg, 2);
    const multiplier = cfg.number('depth_multiplier', 1);
    const channels = (x[2] ?? 0) * multiplier;
    const outputShape = [...spatialOut(cfg, x, w), channels];
    const bias = cfg.bool('use_bias', true);
    const positions = numel(outputShape);
    return {
      outputShape,
      params: numel(w.kernel) * channels + (bias ? channels : 0),
      flops: positions * (2 * numel(w.kernel) + (bias ? 1 : 0) + activationFlopsPerElement(cfg.activation())),
    };
  },
};

const separableConv2D: LayerKind = {
  cheap: false,
  shardable: false,
  describe(cfg, inputs): LayerCost {
    const x = single(cfg, inputs);
    const w = readWindow(cfg, 2);
    const multiplier = cfg.number('depth_multiplier', 1);
    const filters = cfg.number('filters');
    const mid = (x[2] ?? 0) * multiplier;
    const spatial = spatialOut(cfg, x, w);
    const outputShape = [...spatial, filters];
    const bias = cfg.bool('use_bias', true);
    const pixels = numel(spatial);
    return {
      outputShape,
      params: numel(w.kernel) * mid + mid * filters + (bias ? filters : 0),
      flops: pixels * mid * 2 * numel(w.kernel) + pixels * filters * (2 * mid + (bias ? 1 : 0) + activationFlopsPerElement(cfg.activation())),
    };
  },
};

export const CONV_KINDS: Readonly<Record<string, LayerKind>> = {
  Conv1D: convKind(1),
  Conv2D: convKind(2),
  DepthwiseConv2D: depthwiseConv2D,
  SeparableConv2D: separableConv2D,
};
