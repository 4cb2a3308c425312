/**
 * A model.json topology (Keras functional `Model` or `Sequential`, as tfjs and the
 * tensorflowjs converter write it) normalised to a flat list of layers with named inputs.
 * Pure data; no tfjs.
 */
import { EdgeweaveError } from '../../schemas/errors.ts';
import type { LayerConfig } from '../layers/config.ts';

export interface LayerNode {
  name: string;
  className: string;
  config: LayerConfig;
  /** Names of the layers whose outputs this layer consumes, in call order. */
  inbound: string[];
}

export interface LayerGraph {
  /** The model's own name (config.name), '' when it has none. */
  name: string;
  /** Layers in a canonical topological order (see topoSort). */
  layers: LayerNode[];
  inputs: string[];
  outputs: string[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function loadError(message: string): EdgeweaveError {
  return new EdgeweaveError('E_MODEL_LOAD', message);
}

/** The `{class_name, config}` model object inside a modelTopology (converter output nests it). */
function modelObject(topology: unknown): Json {
  if (!isObject(topology)) throw loadError('modelTopology is not an object');
  if (isObject(topology['model_config'])) return topology['model_config'];
  return topology;
}

function parseInbound(layerName: string, nodes: unknown): string[] {
  if (nodes === undefined || nodes === null || (Array.isArray(nodes) && nodes.length === 0)) return [];
  if (!Array.isArray(nodes)) throw loadError(`layer "${layerName}" has malformed inbound_nodes`);
  if (nodes.length > 1) {
    throw new EdgeweaveError('E_UNSUPPORTED_LAYER', `layer "${layerName}" is applied ${nodes.length} times (shared layers cannot be split into tasks)`);
  }
  const node: unknown = nodes[0];
  if (isObject(node)) throw loadError(`layer "${layerName}" uses the Keras 3 topology format, which tfjs 4 cannot load; convert a Keras 2 model`);
  if (!Array.isArray(node)) throw loadError(`layer "${layerName}" has malformed inbound_nodes`);
  return node.map((entry: unknown) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw loadError(`layer "${layerName}" has a malformed inbound node entry`);
    if ((entry[1] ?? 0) !== 0) throw new EdgeweaveError('E_UNSUPPORTED_LAYER', `layer "${layerName}" consumes node ${String(entry[1])} of shared layer "${entry[0]}"`);
    if ((entry[2] ?? 0) !== 0) throw new EdgeweaveError('E_UNSUPPORTED_LAYER', `layer "${layerName}" consumes output ${String(entry[2])} of multi-output layer "${entry[0]}"`);
    return entry[0];
  });
}

function endpoints(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw loadError(`model topology has no ${what}`);
  return value.map((e: unknown) => {
    if (Array.isArray(e) && typeof e[0] === 'string') return e[0];
    throw loadError(`model topology has a malformed ${what} entry`);
  });
}

function layerEntry(raw: unknown): { name: string; className: string; config: Json; inboundNodes: unknown } {
  if (!isObject(raw) || typeof raw['class_name'] !== 'string') throw loadError('a layer entry has no class_name');
  const config = isObject(raw['config']) ? raw['config'] : {};
  const name = typeof raw['name'] === 'string' ? raw['name'] : typeof config['name'] === 'string' ? config['name'] : '';
  if (name === '') throw loadError(`a ${raw['class_name']} layer has no name`);
  return { name, className: raw['class_name'], config, inboundNodes: raw['inbound_nodes'] };
}

function fromSequential(config: unknown): LayerGraph {
  const list = Array.isArray(config) ? config : isObject(config) && Array.isArray(config['layers']) ? config['layers'] : undefined;
  if (!list || list.length === 0) throw loadError('Sequential model has no layers');
  const entries = list.map(layerEntry);
  const layers: LayerNode[] = [];
  const first = entries[0]!;
  if (first.className !== 'InputLayer') {
    // tfjs names the implicit input of a Sequential model `<first layer>_input`.
    const { batch_input_shape, batch_shape, input_shape, dtype } = first.config;
    layers.push({ name: `${first.name}_input`, className: 'InputLayer', config: { batch_input_shape, batch_shape, input_shape, dtype }, inbound: [] });
  }
  for (const e of entries) {
    const prev = layers[layers.length - 1];
    layers.push({ name: e.name, className: e.className, config: e.config, inbound: prev ? [prev.name] : [] });
  }
  const name = isObject(config) && typeof config['name'] === 'string' ? config['name'] : '';
  return { name, layers, inputs: [layers[0]!.name], outputs: [layers[layers.length - 1]!.name] };
}

function fromFunctional(config: unknown): LayerGraph {
  if (!isObject(config) || !Array.isArray(config['layers'])) throw loadError('functional model has no layers');
  const layers = config['layers'].map((raw: unknown) => {
    const e = layerEntry(raw);
    return { name: e.name, className: e.className, config: e.config, inbound: parseInbound(e.name, e.inboundNodes) };
  });
  const name = typeof config['name'] === 'string' ? config['name'] : '';
  return { name, layers, inputs: endpoints(config['input_layers'], 'input_layers'), outputs: endpoints(config['output_layers'], 'output_layers') };
}

/**
 * Layers in a canonical topological order: among the layers ready to run, the smallest name
 * first. It depends only on the graph, not on how a file lists its layers (tfjs reorders them
 * when it saves), so a model read from any copy gives the same task DAG.
 */
function topoSort(graph: LayerGraph): LayerGraph {
  const byName = new Map<string, LayerNode>();
  for (const l of graph.layers) {
    if (byName.has(l.name)) throw loadError(`two layers are named "${l.name}"`);
    byName.set(l.name, l);
  }
  const consumers = new Map<string, string[]>(graph.layers.map((l) => [l.name, []]));
  const waiting = new Map<string, number>();
  for (const l of graph.layers) {
    const sources = new Set(l.inbound);
    for (const src of sources) {
      if (!byName.has(src)) throw loadError(`layer "${l.name}" consumes unknown layer "${src}"`);
      consumers.get(src)!.push(l.name);
    }
    waiting.set(l.name, sources.size);
  }
  for (const n of [...graph.inputs, ...graph.outputs]) if (!byName.has(n)) throw loadError(`model input/output "${n}" is not a layer`);
  const ready = graph.layers.filter((l) => waiting.get(l.name) === 0).map((l) => l.name);
  const sorted: LayerNode[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    const name = ready.pop()!;
    sorted.push(byName.get(name)!);
    for (const c of consumers.get(name)!) {
      const left = waiting.get(c)! - 1;
      waiting.set(c, left);
      if (left === 0) ready.push(c);
    }
  }
  if (sorted.length !== graph.layers.length) {
    throw loadError(`the layer graph has a cycle through "${graph.layers.find((l) => waiting.get(l.name)! > 0)!.name}"`);
  }
  return { ...graph, layers: sorted };
}

/** Normalises a modelTopology object (Model, Functional or Sequential). */
export function normalizeTopology(topology: unknown): LayerGraph {
  const model = modelObject(topology);
  const className = model['class_name'];
  if (className === 'Sequential') return topoSort(fromSequential(model['config']));
  if (className === 'Model' || className === 'Functional') return topoSort(fromFunctional(model['config']));
  throw loadError(`unknown model class ${JSON.stringify(className)} (expected Model, Functional or Sequential)`);
}
