/**
 * The models a device holds and the stages it runs, built once and cached: resolving a
 * model is separate from running it (the original notes lost their TensorFlow session by
 * building graphs in several places). Converts between wire tensors and tfjs tensors.
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { compileStage, predictNamed, randomInput, resolveModel, taskGraphOf, topK, type LoadedModel, type Stage } from '../models/index.ts';
import type { JobPlan, ModelRef, ClassScoreInit } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { TensorData } from '../schemas/tensor-codec.ts';
import type { TaskGraph } from '../schemas/graph.ts';

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

export class ModelHost {
  private readonly refs = new Map<string, string>();
  private readonly log: Logger;

  constructor(private readonly options: ModelHostOptions) {
    this.log = options.log ?? pino({ level: 'silent' });
    for (const ref of options.models) this.refs.set(ref, ref);
  }

  /** Names the device announces (zoo names; model ids of loaded files once loaded). */
  names(): string[] {
    return [...this.refs.keys()];
  }

  /**
   * Loads every held model up front; returns them. Files get registered under their model id
   * too. With `warm`, each model predicts once, so the first job does not pay for the engine's
   * first calls (kernel set-up, memory growth).
   */
  async loadAll(warm = true): Promise<LoadedModel[]> {
    const out: LoadedModel[] = [];
    for (const ref of new Set(this.refs.values())) {
      const model = await this.resolve(ref);
      this.refs.set(model.modelId, ref);
      if (warm) tf.tidy(() => { predictNamed(model, randomInput(model, 0)); });
      out.push(model);
    }
    return out;
  }

  private resolve(ref: string): Promise<LoadedModel> {
    const opts: { log: Logger; cacheDir?: string } = { log: this.log };
    if (this.options.cacheDir !== undefined) opts.cacheDir = this.options.cacheDir;
    return resolveModel(ref, opts);
  }

  /** The model a message names; refuses models this device does not hold or holds in another version. */
  async model(ref: ModelRef | null | undefined): Promise<LoadedModel> {
    const name = ref?.name ?? '';
    const source = this.refs.get(name);
    if (source === undefined) {
      throw new EdgeweaveError('E_MODEL_NOT_FOUND', `this device does not hold model ${JSON.stringify(name)} (it holds: ${this.names().join(', ') || 'none'})`);
    }
    const model = await this.resolve(source);
    if (ref?.sha256 && ref.sha256 !== model.modelHash) {
      throw new EdgeweaveError('E_MODEL_NOT_FOUND', `model ${name} here has hash ${model.modelHash.slice(0, 12)}…, the job wants ${ref.sha256.slice(0, 12)}…`);
    }
    return model;
  }

  graph(model: LoadedModel, plan: Pick<JobPlan, 'fused' | 'denseShards'>): TaskGraph {
    return taskGraphOf(model, graphOptionsOf(plan));
  }

  /** The compiled stage for `taskIds` of the plan's model (cached by models/). */
  async stage(plan: JobPlan, taskIds: readonly string[]): Promise<{ model: LoadedModel; stage: Stage }> {
    const model = await this.model(plan.model);
    const stage = compileStage(model, taskIds, this.graph(model, plan));
    return { model, stage };
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
      feed[name] = data.dtype === 'uint8' ? tf.tensor(Float32Array.from(data.values), data.shape, 'float32') : tf.tensor(data.values, data.shape, data.dtype);
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
