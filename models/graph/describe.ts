/** Shape inference over a layer graph: every layer's kind, input shapes and cost. Pure. */
import { EdgeweaveError } from '../../schemas/errors.ts';
import { ConfigReader, type Shape } from '../layers/config.ts';
import type { LayerCost, LayerKind } from '../layers/kind.ts';
import { isSupportedLayerClass, layerKind, unsupportedLayersError } from '../layers/registry.ts';
import type { LayerGraph, LayerNode } from './topology.ts';

export interface LayerInfo {
  node: LayerNode;
  kind: LayerKind;
  inputShapes: Shape[];
  cost: LayerCost;
}

/** Describes every layer in topological order; throws on unsupported layers or bad shapes. */
export function describeLayers(graph: LayerGraph): Map<string, LayerInfo> {
  // Every unsupported class is named at once, so a user sees the whole list.
  const unsupported = graph.layers.filter((n) => !isSupportedLayerClass(n.className));
  if (unsupported.length > 0) throw unsupportedLayersError(unsupported);
  const inputs = new Set(graph.inputs);
  const infos = new Map<string, LayerInfo>();
  for (const node of graph.layers) {
    const kind = layerKind(node.className, node.name);
    if (kind.input !== true && node.inbound.length === 0) {
      throw new EdgeweaveError('E_MODEL_LOAD', `layer "${node.name}" (class ${node.className}) has no inputs and is not a model input`);
    }
    if (kind.input === true && !inputs.has(node.name)) {
      throw new EdgeweaveError('E_MODEL_LOAD', `input layer "${node.name}" is not among the model's inputs`);
    }
    const inputShapes = node.inbound.map((src) => infos.get(src)!.cost.outputShape);
    const cost = kind.describe(new ConfigReader(node.name, node.className, node.config), inputShapes);
    if (!cost.outputShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new EdgeweaveError('E_MODEL_LOAD', `layer "${node.name}" (class ${node.className}) has output shape [${cost.outputShape.join(', ')}]`);
    }
    infos.set(node.name, { node, kind, inputShapes, cost });
  }
  return infos;
}
