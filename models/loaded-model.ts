/** A model ready to run: the tf.LayersModel with its identity, topology and I/O shapes. */
import type * as tf from '@tensorflow/tfjs';
import { EdgeweaveError } from '../schemas/errors.ts';
import { describeLayers } from './graph/describe.ts';
import type { LayerGraph } from './graph/topology.ts';
import type { Preprocessing } from './preprocessing.ts';

/** What a model says of itself beyond its layers (model.json metadata), for its card. */
export interface ModelAbout {
  /** How image pixels become its inputs; `declared` false when this is edgeweave's default. */
  preprocessing: Preprocessing;
  preprocessingDeclared: boolean;
  generatedBy: string;
  convertedBy: string;
  /** Bytes of its weights as stored. */
  weightBytes: number;
}

/** A named tensor of the model (an input or output task) and its shape for one sample. */
export interface TensorSpec {
  name: string;
  shape: number[];
}

export interface LoadedModel {
  /** Stable name: the zoo name, or the model's own name from its topology. */
  readonly modelId: string;
  /** sha256 (hex) over topology and weights: equal on every device that holds the same model. */
  readonly modelHash: string;
  readonly source: 'zoo' | 'file';
  /** The model.json it was read from (a zoo model's cache file), if any. */
  readonly location: string | undefined;
  readonly model: tf.LayersModel;
  /** The modelTopology object of its model.json. */
  readonly topology: object;
  readonly layerGraph: LayerGraph;
  /** Inputs in the model's input order (names are the input task ids). */
  readonly inputs: readonly TensorSpec[];
  /** Outputs in the model's output order (names are the output task ids). */
  readonly outputs: readonly TensorSpec[];
  readonly labels: readonly string[] | undefined;
  readonly about: ModelAbout;
}

export interface LoadedModelParts {
  modelId: string;
  modelHash: string;
  source: 'zoo' | 'file';
  location: string | undefined;
  model: tf.LayersModel;
  topology: object;
  layerGraph: LayerGraph;
  labels: readonly string[] | undefined;
  about: ModelAbout;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Assembles a LoadedModel, checking that edgeweave's shape inference agrees with tfjs for
 * every layer (a guard on the layer registry for models it has never seen).
 */
export function makeLoadedModel(parts: LoadedModelParts): LoadedModel {
  const infos = describeLayers(parts.layerGraph);
  const layerNames = new Set(parts.model.layers.map((l) => l.name));
  for (const [name, info] of infos) {
    if (!layerNames.has(name)) continue; // the implicit input of a Sequential model
    const layer = parts.model.getLayer(name);
    const tfShape = (layer.outputShape as Array<number | null>).slice(1);
    if (!sameShape(tfShape as number[], info.cost.outputShape)) {
      throw new EdgeweaveError(
        'E_UNSUPPORTED_LAYER',
        `layer "${name}" (class ${info.node.className}): tfjs gives output shape [${tfShape.join(', ')}], edgeweave infers [${info.cost.outputShape.join(', ')}]`,
      );
    }
  }
  const spec = (name: string): TensorSpec => ({ name, shape: [...infos.get(name)!.cost.outputShape] });
  return {
    ...parts,
    inputs: parts.layerGraph.inputs.map(spec),
    outputs: parts.layerGraph.outputs.map(spec),
  };
}
