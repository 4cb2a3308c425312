/**
 * A model's card: what a model is without its weights (id, content hash, topology, inputs
 * with shape, dtype and preprocessing, outputs, labels). Devices publish one per model they
 * hold; planners plan from it and clients learn how to feed a model from it. No tfjs here:
 * a planner reads cards without loading an engine.
 */
import { createHash } from 'node:crypto';
import type { ModelCard, ModelCardInit, ModelTensorInit } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import { canonicalJson } from './io/hash.ts';
import { normalizeTopology, type LayerGraph } from './graph/topology.ts';
import type { LoadedModel } from './loaded-model.ts';
import { preprocessedRange } from './preprocessing.ts';

/** sha256 (hex) of a topology's canonical JSON. */
export function topologySha256(topology: unknown): string {
  return createHash('sha256').update(canonicalJson(topology)).digest('hex');
}

function outputMeaning(graph: LayerGraph, name: string): string {
  const node = graph.layers.find((l) => l.name === name);
  if (!node) return 'values';
  if (node.className === 'Softmax' || node.config['activation'] === 'softmax') return 'probabilities';
  return node.config['activation'] === 'linear' || node.config['activation'] === undefined ? 'values' : 'activations';
}

function inputDtype(graph: LayerGraph, name: string): string {
  const dtype = graph.layers.find((l) => l.name === name)?.config['dtype'];
  return typeof dtype === 'string' && dtype !== '' ? dtype : 'float32';
}

/** The card of a loaded model. */
export function modelCardOf(model: LoadedModel): ModelCardInit {
  const { about } = model;
  const [lo, hi] = preprocessedRange(about.preprocessing);
  const inputs: ModelTensorInit[] = model.inputs.map((t) => ({
    name: t.name, shape: [...t.shape], dtype: inputDtype(model.layerGraph, t.name),
    ...(t.shape.length === 3 && (t.shape[2] === 3 || t.shape[2] === 1)
      ? { rangeMin: lo, rangeMax: hi, preprocessing: about.preprocessing, preprocessingDeclared: about.preprocessingDeclared }
      : {}),
  }));
  const outputs: ModelTensorInit[] = model.outputs.map((t) => ({ name: t.name, shape: [...t.shape], dtype: 'float32', meaning: outputMeaning(model.layerGraph, t.name) }));
  return {
    model: { name: model.modelId, sha256: model.modelHash },
    topologyJson: JSON.stringify(model.topology),
    topologySha256: topologySha256(model.topology),
    inputs, outputs,
    labels: model.labels ? [...model.labels] : [],
    weightBytes: about.weightBytes,
    layers: model.layerGraph.layers.length,
    source: model.source,
    generatedBy: about.generatedBy,
    convertedBy: about.convertedBy,
  };
}

/**
 * The layer graph a card describes. Throws E_MODEL_LOAD when the card is not self-consistent
 * (its topology does not parse, or does not match its topology hash).
 */
export function cardLayerGraph(card: ModelCard): LayerGraph {
  const id = card.model?.name ?? '';
  let topology: unknown;
  try {
    topology = JSON.parse(card.topologyJson);
  } catch (err) {
    throw new EdgeweaveError('E_MODEL_LOAD', `the card of model ${id} has a topology that is not JSON (${(err as Error).message})`);
  }
  if (topologySha256(topology) !== card.topologySha256) {
    throw new EdgeweaveError('E_MODEL_LOAD', `the card of model ${id} has a topology that does not match its topology_sha256`);
  }
  return normalizeTopology(topology);
}

/** `id@hash12`, how a model is named where ids could collide. */
export function modelLabel(ref: { name: string; sha256: string } | null | undefined): string {
  if (!ref) return '?';
  return ref.sha256 ? `${ref.name || '?'}@${ref.sha256.slice(0, 12)}` : ref.name;
}
