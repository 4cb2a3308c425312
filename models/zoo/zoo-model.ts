import type { KerasTopology } from './builder.ts';

/** A model of the zoo: its topology as plain data, and how to fill its weights. */
export interface ZooModel {
  name: string;
  description: string;
  /** The Keras topology; pure and cheap (memoise the result). */
  topology(): KerasTopology;
  labels?: readonly string[];
  /**
   * Multiplier of one weight's random range (default 1), by layer name and weight role
   * (kernel, gamma, ...): residual branches end with a small gamma so activations stay in
   * range through deep stacks of random weights, and classifiers get confident logits.
   * Part of the generator: changing it needs a WEIGHTS_VERSION bump.
   */
  weightScale?: (layer: string, role: string) => number;
}

/** Memoises a topology builder. */
export function once(build: () => KerasTopology): () => KerasTopology {
  let cached: KerasTopology | undefined;
  return () => (cached ??= build());
}
