/** Builds a zoo model in tfjs from its topology and fills its seeded weights. */
import * as tf from '@tensorflow/tfjs';
import { captureSaveHandler } from '../io/file-handler.ts';
import { fillSeededWeights } from './seeded-weights.ts';
import type { ZooModel } from './zoo-model.ts';

export interface GeneratedModel {
  model: tf.LayersModel;
  /** What `model.save` writes: the topology as tfjs serialises it, weight specs and bytes. */
  artifacts: tf.io.ModelArtifacts;
}

export async function generateZooModel(zoo: ZooModel): Promise<GeneratedModel> {
  // Zeros initialisers make building cheap; the seeded fill then writes every weight once.
  const model = await tf.models.modelFromJSON({ modelTopology: zoo.topology() } as unknown as Parameters<typeof tf.models.modelFromJSON>[0]);
  fillSeededWeights(model, zoo);
  if (zoo.labels) model.setUserDefinedMetadata({ labels: [...zoo.labels] });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(captureSaveHandler((a) => {
    artifacts = a;
  }));
  return { model, artifacts: artifacts! };
}
