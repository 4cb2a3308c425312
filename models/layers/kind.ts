import type { ConfigReader, Shape } from './config.ts';

/** What a layer costs, for one sample. */
export interface LayerCost {
  outputShape: Shape;
  /** Number of weights (trainable and not), each stored as float32. */
  params: number;
  /** Floating-point operations (a multiply-add counts 2). */
  flops: number;
}

/**
 * A layer class described by itself: how it maps input shapes to an output shape, what it
 * holds, what it computes, and how the DAG may treat it. Graph code and planners read these
 * properties; they never switch on class names.
 */
export interface LayerKind {
  describe(cfg: ConfigReader, inputs: readonly Shape[]): LayerCost;
  /** Elementwise, reshaping or pooling: fused onto its producer when fusing runs. */
  cheap: boolean;
  /** A Dense-like layer whose output columns can be computed by separate shards. */
  shardable: boolean;
  /** A merge layer: the kind of a fork-join block that ends in it (ResidualBlock, ConcatBlock). */
  blockKind?: string;
  /** The model's input (no computation; the data is fed in). */
  input?: boolean;
}
