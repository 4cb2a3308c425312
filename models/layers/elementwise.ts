/** Shape-preserving layer kinds: activations, normalisation, and what is the identity at inference. */
import { activationFlopsPerElement, numel, sampleAxis, single, type ConfigReader, type Shape } from './config.ts';
import type { LayerCost, LayerKind } from './kind.ts';

/** A shape-preserving cheap layer with `flopsPerElement(cfg)` and `params(cfg, shape)`. */
function shapePreserving(
  flopsPerElement: (cfg: ConfigReader) => number,
  params: (cfg: ConfigReader, shape: Shape) => number = () => 0,
): LayerKind {
  return {
    cheap: true,
    shardable: false,
    describe(cfg, inputs): LayerCost {
      const x = single(cfg, inputs);
      return { outputShape: x, params: params(cfg, x), flops: numel(x) * flopsPerElement(cfg) };
    },
  };
}

function featureAxisSize(cfg: ConfigReader, shape: Shape): number {
  const raw = cfg.raw('axis');
  const axis = Array.isArray(raw) ? (raw.length === 1 && typeof raw[0] === 'number' ? raw[0] : NaN) : cfg.number('axis', -1);
  if (!Number.isInteger(axis)) throw cfg.unsupported(`normalisation over several axes (${JSON.stringify(raw)})`);
  return shape[sampleAxis(cfg, axis, shape.length)] ?? 0;
}

const identity = shapePreserving(() => 0);

export const ELEMENTWISE_KINDS: Readonly<Record<string, LayerKind>> = {
  Activation: shapePreserving((cfg) => activationFlopsPerElement(cfg.activation())),
  ReLU: shapePreserving(() => 1),
  LeakyReLU: shapePreserving(() => 2),
  ELU: shapePreserving(() => 4),
  ThresholdedReLU: shapePreserving(() => 1),
  Softmax: shapePreserving(() => 5),
  PReLU: shapePreserving(
    () => 2,
    (cfg, shape) => {
      const shared = cfg.has('shared_axes') ? cfg.list('shared_axes').map((a) => sampleAxis(cfg, a, shape.length)) : [];
      return numel(shape.map((d, i) => (shared.includes(i) ? 1 : d)));
    },
  ),
  BatchNormalization: shapePreserving(
    () => 2,
    (cfg, shape) => featureAxisSize(cfg, shape) * (2 + (cfg.bool('center', true) ? 1 : 0) + (cfg.bool('scale', true) ? 1 : 0)),
  ),
  LayerNormalization: shapePreserving(
    () => 8,
    (cfg, shape) => featureAxisSize(cfg, shape) * ((cfg.bool('center', true) ? 1 : 0) + (cfg.bool('scale', true) ? 1 : 0)),
  ),
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  AlphaDropout: identity,
  GaussianDropout: identity,
  GaussianNoise: identity,
};
