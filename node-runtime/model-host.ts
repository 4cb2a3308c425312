/**
 * The models a device holds and the stages it runs, built once and cached: resolving a
 * model is separate from running it (the original notes lost their TensorFlow session by
 * building graphs in several places); a stage is compiled once per (model, graph options,
 * tasks), whatever the job. Converts between wire tensors and tfjs tensors.
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { compileStage, findModelJson, modelCardOf, modelLabel, predictNamed, randomInput, readModelJson, resolveModel, taskGraphOf, topK, type LoadedModel, type Stage } from '../models/index.ts';
import type { JobPlan, ModelRef, ModelRefInit, ModelProblemInit, ModelCardInit, ClassScoreInit } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError, toEdgeweaveError, type ErrorCode } from '../schemas/errors.ts';
import type { TensorData } from '../schemas/tensor-codec.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { splitOutputs, stackInputs } from './stage-batch.ts';

export interface ModelHostOptions {
  /** Models this device holds: zoo names or paths to model.json files / folders. */
  models: readonly string[];
  cacheDir?: string;
  log?: Logger;
}

/** The graph options a plan was made with. */
export function graphOptionsOf(plan: Pick<JobPlan, 'fused' | 'denseShards'>): { fused: boolean; denseShards?: Record<string, number> } {
  const shards = Object.keys(plan.denseShards).length > 0 ? { ...plan.denseShards } : undefined;
  return shards ? { fused: plan.fused, denseShards: shards } : { fused: plan.fused };
}

/** A model this device holds: the reference it was given, and the model once loaded. */
interface Held {
  ref: string;
  model: LoadedModel;
}

/** What a device says of its models once loaded: refs (id + hash), problems and cards. */
export interface HeldModels {
  refs: ModelRefInit[];
  problems: ModelProblemInit[];
  cards: ModelCardInit[];
}

/** A stage compiled for a model this device holds. */
export interface CompiledStage {
  model: LoadedModel;
  stage: Stage;
}

export class ModelHost {
  private held: Held[] = [];
  private summary: HeldModels = { refs: [], problems: [], cards: [] };
  private readonly log: Logger;

  constructor(private readonly options: ModelHostOptions) {
    this.log = options.log ?? pino({ level: 'silent' });
  }

  /**
   * The models held, by id and content hash; those given but unusable, and why; a card per model
   * held, for models/{sha256}. Built once, when the models are loaded.
   */
  heldModels(): HeldModels {
    return this.summary;
  }

  /**
   * Loads every model given, one by one. A model that cannot be loaded is logged with the
   * reason and listed in `modelProblems()`; the others are held all the same. Throws only when
   * models were given and none loads. With `warm`, each model predicts once, so the first job
   * does not pay for the engine's first calls (kernel set-up, memory growth).
   */
  async loadAll(warm = true): Promise<LoadedModel[]> {
    const held: Held[] = [];
    const problems: ModelProblemInit[] = [];
    for (const ref of new Set(this.options.models)) {
      try {
        const model = await this.resolve(ref);
        if (held.some((h) => h.model.modelHash === model.modelHash)) continue;
        if (warm) tf.tidy(() => { predictNamed(model, randomInput(model, 0)); });
        held.push({ ref, model });
      } catch (err) {
        const e = toEdgeweaveError(err, 'E_MODEL_LOAD');
        this.log.error({ model: ref, code: e.code }, `cannot use model ${ref}: ${e.message}`);
        problems.push({ ref, modelId: await modelIdGuess(ref), code: e.code, message: e.message });
      }
    }
    this.held = held;
    this.summary = {
      refs: held.map((h) => ({ name: h.model.modelId, sha256: h.model.modelHash })),
      problems,
      cards: held.map((h) => modelCardOf(h.model)),
    };
    if (held.length === 0 && problems.length > 0) {
      throw new EdgeweaveError(problems[0]!.code as ErrorCode, `no model given can be used: ${problems.map((p) => `${p.ref}: ${p.message}`).join('; ')}`);
    }
    return held.map((h) => h.model);
  }

  private resolve(ref: string): Promise<LoadedModel> {
    const opts: { log: Logger; cacheDir?: string } = { log: this.log };
    if (this.options.cacheDir !== undefined) opts.cacheDir = this.options.cacheDir;
    return resolveModel(ref, opts);
  }

  /**
   * The model a message names: by hash when it gives one (the copy held here must be that
   * model), else by id. Refuses models this device does not hold.
   */
  async model(ref: ModelRef | ModelRefInit | null | undefined): Promise<LoadedModel> {
    return this.heldModel(ref);
  }

  /** `model`, synchronously: the models are loaded at start, so finding one waits for nothing. */
  heldModel(ref: ModelRef | ModelRefInit | null | undefined): LoadedModel {
    const name = ref?.name ?? '';
    const sha256 = ref?.sha256 ?? '';
    const list = (): string => this.summary.refs.map((r) => modelLabel({ name: r.name ?? '', sha256: r.sha256 ?? '' })).join(', ') || 'none';
    if (sha256 !== '') {
      const hit = this.held.find((h) => h.model.modelHash === sha256);
      if (hit) return hit.model;
      throw new EdgeweaveError('E_MODEL_NOT_FOUND', `this device does not hold ${modelLabel({ name, sha256 })} (it holds: ${list()})`);
    }
    const hits = this.held.filter((h) => h.model.modelId === name);
    if (hits.length === 1) return hits[0]!.model;
    if (hits.length > 1) throw new EdgeweaveError('E_MODEL_AMBIGUOUS', `this device holds ${hits.length} models named ${name}: give the hash (it holds: ${list()})`);
    throw new EdgeweaveError('E_MODEL_NOT_FOUND', `this device does not hold model ${JSON.stringify(name)} (it holds: ${list()})`);
  }

  graph(model: LoadedModel, plan: Pick<JobPlan, 'fused' | 'denseShards'>): TaskGraph {
    return taskGraphOf(model, graphOptionsOf(plan));
  }

  /**
   * The compiled stage for `taskIds` of the plan's model. A stage depends only on the model, the
   * graph options and its tasks, so it is compiled once for all the jobs that run it: later calls
   * find it (models/stage.ts) without planning the stage again.
   */
  compile(plan: Pick<JobPlan, 'model' | 'fused' | 'denseShards'>, taskIds: readonly string[]): CompiledStage {
    const model = this.heldModel(plan.model);
    return { model, stage: compileStage(model, taskIds, this.graph(model, plan)) };
  }
}

/** A model's id read from a model.json that will not load, as far as it can be read ("" if not). */
async function modelIdGuess(ref: string): Promise<string> {
  try {
    const file = await findModelJson(ref);
    if (!file) return '';
    const topology = (await readModelJson(file)).modelTopology as { model_config?: { config?: { name?: unknown } }; config?: { name?: unknown } };
    const name = topology.model_config?.config?.name ?? topology.config?.name;
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

/** Runs a stage on plain tensors (batch dimension included); returns its outputs as plain tensors. */
export function runStageOnData(stage: Stage, inputs: ReadonlyMap<string, TensorData>): Map<string, TensorData> {
  const feed: Record<string, tf.Tensor> = {};
  const out = new Map<string, TensorData>();
  try {
    for (const name of stage.inputNames) {
      const data = inputs.get(name);
      if (!data) throw new EdgeweaveError('E_STAGE', `stage is missing its input tensor ${name}`);
      const expected = stage.shapes[name];
      const perSample = data.shape.slice(1);
      if (expected && (perSample.length !== expected.length || perSample.some((d, i) => d !== expected[i]))) {
        throw new EdgeweaveError('E_TENSOR', `input ${name} has shape [${data.shape.join(', ')}], the stage needs [batch, ${expected.join(', ')}]`);
      }
      // tfjs has no uint8 dtype: raw uint8 tensors enter the model as float32 values 0-255.
      feed[name] = data.dtype === 'uint8' ? tf.tensor(new Float32Array(data.values), data.shape, 'float32') : tf.tensor(data.values, data.shape, data.dtype);
    }
    const results = stage.run(feed);
    for (const [name, t] of Object.entries(results)) {
      out.set(name, { dtype: t.dtype as TensorData['dtype'], shape: t.shape, values: t.dataSync() as TensorData['values'] });
      t.dispose();
    }
    return out;
  } finally {
    for (const t of Object.values(feed)) t.dispose();
  }
}

/**
 * Runs a stage once on the inputs of several items (jobs), stacked along the batch axis; returns
 * each item's outputs (stage-batch.ts). Throws when the batch cannot run or be split: the caller
 * then runs the items one by one.
 */
export function runStageBatch(stage: Stage, items: ReadonlyArray<ReadonlyMap<string, TensorData>>): Array<Map<string, TensorData>> {
  const { inputs, rows } = stackInputs(items, stage.inputNames);
  return splitOutputs(runStageOnData(stage, inputs), rows);
}

/** Top-k classes of an output tensor, with the model's labels when it has them. */
export function topKOf(model: LoadedModel, output: TensorData, k: number): ClassScoreInit[] {
  if (k <= 0 || output.dtype !== 'float32') return [];
  const t = tf.tensor(output.values, output.shape, output.dtype);
  try {
    return topK(t, model.labels, k).map((c) => ({ index: c.index, label: c.label ?? '', probability: c.score }));
  } finally {
    t.dispose();
  }
}
