/**
 * The task DAG of a model reference (zoo name or model.json path) from its topology alone:
 * no weights read, no tfjs loaded, a few milliseconds even for VGG16. Planners may import
 * this module directly to avoid loading tfjs at all.
 */
import * as path from 'node:path';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { buildTaskGraph, type GraphOptions } from './graph/build.ts';
import { normalizeTopology, type LayerGraph } from './graph/topology.ts';
import { findModelJson, readModelJson, MODEL_JSON } from './io/file-handler.ts';
import { zooModel, zooModelNames } from './zoo/catalog.ts';

/** A model id from a model's own name, else from its file location: [A-Za-z0-9._-], 1-64 characters. */
export function modelIdFor(graph: LayerGraph, file: string): string {
  const raw = graph.name !== '' ? graph.name : path.basename(file) === MODEL_JSON ? path.basename(path.dirname(file)) : path.basename(file, '.json');
  const id = raw.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return id === '' ? 'model' : id;
}

export function notFound(ref: string): EdgeweaveError {
  return new EdgeweaveError('E_MODEL_NOT_FOUND', `"${ref}" is neither a zoo model (${zooModelNames().join(', ')}) nor a model.json or a folder holding one`);
}

/** The normalised layer graph of a reference, from its topology only. */
export async function layerGraphOf(ref: string): Promise<{ modelId: string; layerGraph: LayerGraph }> {
  const zoo = zooModel(ref);
  if (zoo) return { modelId: zoo.name, layerGraph: normalizeTopology(zoo.topology()) };
  const file = await findModelJson(ref);
  if (!file) throw notFound(ref);
  const layerGraph = normalizeTopology((await readModelJson(file)).modelTopology);
  return { modelId: modelIdFor(layerGraph, file), layerGraph };
}

/** The task DAG of a model reference. Same result as taskGraphOf(await resolveModel(ref)). */
export async function getTaskGraph(ref: string, options: GraphOptions = {}): Promise<TaskGraph> {
  const { modelId, layerGraph } = await layerGraphOf(ref);
  return buildTaskGraph(layerGraph, modelId, options);
}
