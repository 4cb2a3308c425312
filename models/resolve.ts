/**
 * Model references: a zoo name or a path to a model.json (or a folder holding one).
 * `resolveModel` loads a runnable model (zoo models are generated once, then read from the
 * cache); task-graph.ts gives the task DAG from the topology alone, without weights.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { initEngine, type EngineName } from './engine.ts';
import { buildTaskGraph, type GraphOptions } from './graph/build.ts';
import { describeLayers } from './graph/describe.ts';
import { normalizeTopology } from './graph/topology.ts';
import { canonicalJson, hashModel, weightBuffers } from './io/hash.ts';
import { findModelJson, memoryLoadHandler, readModelArtifacts, saveModelFiles, writeModelArtifacts, MODEL_JSON } from './io/file-handler.ts';
import { makeLoadedModel, type LoadedModel, type ModelAbout } from './loaded-model.ts';
import { preprocessingOf } from './preprocessing.ts';
import { zooModel } from './zoo/catalog.ts';
import { modelIdFor, notFound } from './task-graph.ts';
import { generateZooModel } from './zoo/generate.ts';
import { clearStageCache } from './stage.ts';
import { WEIGHTS_VERSION } from './zoo/seeded-weights.ts';
import type { ZooModel } from './zoo/zoo-model.ts';

export const DEFAULT_CACHE_DIR = './.edgeweave/models';

export interface ResolveOptions {
  /** Where generated zoo models are cached (default EDGEWEAVE_CACHE_DIR, else ./.edgeweave/models). */
  cacheDir?: string | undefined;
  /** Read and write the zoo cache (default true). */
  cache?: boolean | undefined;
  engine?: EngineName | undefined;
  log?: Logger | undefined;
}

export function cacheDirOf(options: Pick<ResolveOptions, 'cacheDir'> = {}): string {
  return path.resolve(options.cacheDir ?? process.env['EDGEWEAVE_CACHE_DIR'] ?? DEFAULT_CACHE_DIR);
}

/** The folder a zoo model is cached in; its name changes whenever the topology or weight generator does. */
export function zooCacheFolder(zoo: ZooModel, cacheDir: string): string {
  const key = createHash('sha256').update(canonicalJson(zoo.topology())).update(`weights-v${WEIGHTS_VERSION}`).digest('hex').slice(0, 12);
  return path.join(cacheDir, `${zoo.name}-${key}`);
}

async function labelsBeside(file: string, metadata: Record<string, unknown> | undefined): Promise<string[] | undefined> {
  const fromMeta = metadata?.['labels'];
  if (Array.isArray(fromMeta) && fromMeta.every((l) => typeof l === 'string')) return fromMeta;
  const dir = path.dirname(file);
  const json = await readFile(path.join(dir, 'labels.json'), 'utf8').catch(() => undefined);
  if (json !== undefined) {
    const parsed: unknown = JSON.parse(json);
    if (Array.isArray(parsed) && parsed.every((l) => typeof l === 'string')) return parsed;
  }
  const txt = await readFile(path.join(dir, 'labels.txt'), 'utf8').catch(() => undefined);
  return txt?.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
}

function weightBytesOf(artifacts: tf.io.ModelArtifacts): number {
  return weightBuffers(artifacts.weightData).reduce((s, b) => s + b.byteLength, 0);
}

/** A model's metadata; a zoo model's preprocessing is stated by the zoo (its models take `unit`). */
function aboutOf(artifacts: tf.io.ModelArtifacts, where: string, source: 'zoo' | 'file'): ModelAbout {
  const metadata = artifacts.userDefinedMetadata as Record<string, unknown> | undefined;
  const { mode, declared } = preprocessingOf(metadata, where);
  return {
    preprocessing: mode, preprocessingDeclared: declared || source === 'zoo', generatedBy: artifacts.generatedBy ?? '', convertedBy: artifacts.convertedBy ?? '',
    weightBytes: weightBytesOf(artifacts),
  };
}

async function loadFromFile(file: string, source: 'zoo' | 'file', zooName?: string): Promise<LoadedModel> {
  const { json, artifacts } = await readModelArtifacts(file);
  // Topology first: an unsupported layer is reported before any weight reaches tfjs.
  const layerGraph = normalizeTopology(json.modelTopology);
  describeLayers(layerGraph);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(memoryLoadHandler(artifacts));
  } catch (err) {
    throw new EdgeweaveError('E_MODEL_LOAD', `${file}: tfjs cannot build the model: ${(err as Error).message}`, { cause: err });
  }
  return makeLoadedModel({
    modelId: zooName ?? modelIdFor(layerGraph, file),
    modelHash: hashModel(json.modelTopology, artifacts.weightSpecs ?? [], artifacts.weightData),
    source,
    location: file,
    model,
    topology: json.modelTopology as object,
    layerGraph,
    labels: await labelsBeside(file, json.userDefinedMetadata),
    about: aboutOf(artifacts, file, source),
  });
}

/** Writes into a fresh folder, then renames it into place, so readers never see half a model. */
async function writeCache(folder: string, artifacts: tf.io.ModelArtifacts, log: Logger | undefined): Promise<void> {
  const tmp = `${folder}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeModelArtifacts(tmp, artifacts);
    await rename(tmp, folder);
    log?.debug({ folder }, 'zoo model cached');
  } catch (err) {
    // Another process cached it first, or the disk refused: the model in memory is still good.
    log?.warn({ folder, err }, 'zoo model not cached');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function loadZoo(zoo: ZooModel, options: ResolveOptions): Promise<LoadedModel> {
  const folder = zooCacheFolder(zoo, cacheDirOf(options));
  const file = path.join(folder, MODEL_JSON);
  const useCache = options.cache ?? true;
  if (useCache && (await stat(file).catch(() => undefined))) {
    try {
      return await loadFromFile(file, 'zoo', zoo.name);
    } catch (err) {
      options.log?.warn({ file, err }, 'zoo cache unreadable; regenerating');
      await rm(folder, { recursive: true, force: true });
    }
  }
  const started = performance.now();
  const { model, artifacts } = await generateZooModel(zoo);
  options.log?.info({ model: zoo.name, ms: Math.round(performance.now() - started) }, 'zoo model generated');
  if (useCache) await writeCache(folder, artifacts, options.log);
  return makeLoadedModel({
    modelId: zoo.name,
    modelHash: hashModel(artifacts.modelTopology, artifacts.weightSpecs ?? [], artifacts.weightData),
    source: 'zoo',
    location: useCache ? file : undefined,
    model,
    topology: artifacts.modelTopology as object,
    layerGraph: normalizeTopology(artifacts.modelTopology),
    labels: zoo.labels ? [...zoo.labels] : undefined,
    about: aboutOf(artifacts, zoo.name, 'zoo'),
  });
}

const loaded = new Map<string, Promise<LoadedModel>>();
const keyOf = new WeakMap<LoadedModel, string>();

/**
 * Loads a model by zoo name or model.json path. Loading the same reference again in this
 * process returns the same LoadedModel (call `disposeModel` to free it).
 */
export async function resolveModel(ref: string, options: ResolveOptions = {}): Promise<LoadedModel> {
  await initEngine({ engine: options.engine, log: options.log });
  const zoo = zooModel(ref);
  const file = zoo ? undefined : await findModelJson(ref);
  if (!zoo && !file) throw notFound(ref);
  const key = zoo ? `zoo:${zoo.name}:${cacheDirOf(options)}:${String(options.cache ?? true)}` : `file:${file!}`;
  let entry = loaded.get(key);
  if (!entry) {
    entry = (zoo ? loadZoo(zoo, options) : loadFromFile(file!, 'file')).then((model) => {
      keyOf.set(model, key);
      return model;
    });
    loaded.set(key, entry);
    entry.catch(() => loaded.delete(key));
  }
  return entry;
}

/** Frees a model's weights, stages and shard slices, and forgets it. */
export function disposeModel(model: LoadedModel): void {
  const key = keyOf.get(model);
  if (key !== undefined) loaded.delete(key);
  clearStageCache(model);
  model.model.dispose();
}

const graphs = new WeakMap<LoadedModel, Map<string, TaskGraph>>();

/** The task DAG of a loaded model (memoised per options). */
export function taskGraphOf(model: LoadedModel, options: GraphOptions = {}): TaskGraph {
  let byOptions = graphs.get(model);
  if (!byOptions) graphs.set(model, (byOptions = new Map()));
  const key = canonicalJson(options);
  let graph = byOptions.get(key);
  if (!graph) byOptions.set(key, (graph = buildTaskGraph(model.layerGraph, model.modelId, options)));
  return graph;
}

/** Saves a model as `dir/model.json` + `dir/weights.bin` (labels kept in its metadata). */
export async function exportModel(model: LoadedModel, dir: string): Promise<string> {
  if (model.labels) model.model.setUserDefinedMetadata({ ...(model.model.getUserDefinedMetadata() ?? {}), labels: [...model.labels] });
  return saveModelFiles(model.model, dir);
}
