/**
 * Stage execution. `compileStage` turns a set of tasks into an executor once (layers looked
 * up, shard weights sliced, tensor slots and their last uses computed) and caches it per
 * (model, stage); `run` is then a loop over bound steps. The model's own layer objects are
 * applied to concrete tensors, so weights are shared with the whole model, never copied
 * (shard slices excepted) and the model's graph is never modified.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { EdgeweaveError, toEdgeweaveError } from '../schemas/errors.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { shardColumns } from './graph/shards.ts';
import { canonicalJson } from './io/hash.ts';
import type { LoadedModel } from './loaded-model.ts';
import { planStage, type StagePlan, type StageStep } from './stage-plan.ts';

export type TensorMap = Record<string, tf.Tensor>;

export interface Stage {
  readonly modelId: string;
  /** Identifies the compiled stage (its tasks, steps and boundary). */
  readonly key: string;
  readonly taskIds: readonly string[];
  /** Tensors `run` needs, named by their producing task (see stage-plan.ts). */
  readonly inputNames: readonly string[];
  /** Tensors `run` returns. */
  readonly outputNames: readonly string[];
  /** Per-sample shapes of the inputs and outputs. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /** Runs the stage; the caller keeps ownership of `inputs` and owns the returned tensors. */
  run(inputs: Readonly<TensorMap>): TensorMap;
  /** Drops the stage from the cache (its model, and the shard slices it shares, stay). */
  dispose(): void;
}

interface BoundStep {
  run: (xs: tf.Tensor[]) => tf.Tensor;
  args: number[];
  out: number;
  /** Slots whose last use is this step. */
  free: number[];
}

const stages = new WeakMap<LoadedModel, Map<string, Stage>>();
/** The stage compiled for a list of tasks of a graph: found again without planning the stage. */
const byTasks = new WeakMap<TaskGraph, Map<string, Stage>>();

function layerStep(model: LoadedModel, step: Extract<StageStep, { op: 'layer' }>): BoundStep['run'] {
  const layer = model.model.getLayer(step.layer);
  const kwargs = { training: false };
  return (xs) => layer.apply(xs.length === 1 ? xs[0]! : xs, kwargs) as tf.Tensor;
}

/** Activation applied after a Dense layer's matmul, or undefined for linear. */
function denseActivation(model: LoadedModel, layerName: string): ((x: tf.Tensor) => tf.Tensor) | undefined {
  const config = model.model.getLayer(layerName).getConfig();
  const name = typeof config['activation'] === 'string' ? config['activation'] : 'linear';
  if (name === 'linear') return undefined;
  const act = tf.layers.activation({ activation: name as Parameters<typeof tf.layers.activation>[0]['activation'] });
  return (x) => act.apply(x) as tf.Tensor;
}

/** Column slices of sharded Dense kernels, shared by every stage of the model (one copy per shard). */
const shardWeights = new WeakMap<LoadedModel, Map<string, { kernel: tf.Tensor2D; bias: tf.Tensor1D | undefined; fanIn: number; columns: number }>>();

function shardSlice(model: LoadedModel, layerName: string, index: number, count: number): { kernel: tf.Tensor2D; bias: tf.Tensor1D | undefined; fanIn: number; columns: number } {
  let cache = shardWeights.get(model);
  if (!cache) shardWeights.set(model, (cache = new Map()));
  const key = `${layerName}#${index}/${count}`;
  let entry = cache.get(key);
  if (!entry) {
    const [kernel, bias] = model.model.getLayer(layerName).getWeights();
    if (!kernel || kernel.rank !== 2) throw new EdgeweaveError('E_STAGE', `layer ${layerName} cannot be sharded: it has no 2-D kernel`);
    const [fanIn, units] = kernel.shape as [number, number];
    const [start, end] = shardColumns(units, index, count);
    entry = {
      kernel: tf.keep(kernel.slice([0, start], [fanIn, end - start])) as tf.Tensor2D,
      bias: bias ? (tf.keep(bias.slice([start], [end - start])) as tf.Tensor1D) : undefined,
      fanIn,
      columns: end - start,
    };
    cache.set(key, entry);
  }
  return entry;
}

function shardStep(model: LoadedModel, step: Extract<StageStep, { op: 'shard' }>): BoundStep['run'] {
  const { kernel, bias, fanIn, columns } = shardSlice(model, step.layer, step.index, step.count);
  return ([x]) => {
    const flat = x!.rank === 2 ? (x as tf.Tensor2D) : (x!.reshape([-1, fanIn]) as tf.Tensor2D);
    const y = tf.fused.matMul(bias ? { a: flat, b: kernel, bias } : { a: flat, b: kernel });
    return x!.rank === 2 ? y : y.reshape([...x!.shape.slice(0, -1), columns]);
  };
}

function joinStep(model: LoadedModel, step: Extract<StageStep, { op: 'join' }>): BoundStep['run'] {
  const activation = denseActivation(model, step.layer);
  return (xs) => {
    const joined = tf.concat(xs, -1);
    return activation ? activation(joined) : joined;
  };
}

function bind(model: LoadedModel, plan: StagePlan): { steps: BoundStep[]; inputSlots: number[]; outputSlots: number[] } {
  const slotOf = new Map<string, number>();
  const slot = (name: string): number => {
    let s = slotOf.get(name);
    if (s === undefined) slotOf.set(name, (s = slotOf.size));
    return s;
  };
  const inputSlots = plan.inputNames.map(slot);
  const steps: BoundStep[] = plan.steps.map((step) => ({
    run: step.op === 'layer' ? layerStep(model, step) : step.op === 'shard' ? shardStep(model, step) : joinStep(model, step),
    args: step.inputs.map(slot),
    out: slot(step.output),
    free: [],
  }));
  const outputSlots = plan.outputNames.map(slot);
  const keep = new Set([...inputSlots, ...outputSlots]);
  const lastUse = new Map<number, number>();
  steps.forEach((s, i) => {
    for (const a of s.args) lastUse.set(a, i);
    if (!lastUse.has(s.out)) lastUse.set(s.out, i);
  });
  for (const [s, i] of lastUse) if (!keep.has(s)) steps[i]!.free.push(s);
  return { steps, inputSlots, outputSlots };
}

function checkInput(plan: StagePlan, name: string, t: tf.Tensor | undefined): tf.Tensor {
  if (!t) throw new EdgeweaveError('E_INPUT', `stage needs tensor ${name} (inputs: ${plan.inputNames.join(', ')})`);
  const want = plan.shapes[name]!;
  if (t.rank !== want.length + 1 || want.some((d, i) => t.shape[i + 1] !== d)) {
    throw new EdgeweaveError('E_INPUT', `tensor ${name} has shape [${t.shape.join(', ')}], the stage expects [batch, ${want.join(', ')}]`);
  }
  return t;
}

function makeStage(model: LoadedModel, plan: StagePlan, key: string, cache: Map<string, Stage>): Stage {
  const { steps, inputSlots, outputSlots } = bind(model, plan);
  const slotCount = Math.max(0, ...steps.map((s) => s.out), ...inputSlots) + 1;
  const inputSlotSet = new Set(inputSlots);
  const stage: Stage = {
    modelId: model.modelId,
    key,
    taskIds: plan.taskIds,
    inputNames: plan.inputNames,
    outputNames: plan.outputNames,
    shapes: plan.shapes,
    run(inputs) {
      const slots: Array<tf.Tensor | undefined> = new Array<tf.Tensor | undefined>(slotCount);
      plan.inputNames.forEach((name, i) => {
        slots[inputSlots[i]!] = checkInput(plan, name, inputs[name]);
      });
      try {
        for (const step of steps) {
          const xs = step.args.map((a) => slots[a]!);
          const y = tf.tidy(() => step.run(xs));
          slots[step.out] = xs.includes(y) ? y.clone() : y;
          for (const f of step.free) {
            slots[f]!.dispose();
            slots[f] = undefined;
          }
        }
        const out: TensorMap = {};
        plan.outputNames.forEach((name, i) => {
          const s = outputSlots[i]!;
          // An output that is also an input (a stage holding only an input task) is handed back as a copy.
          out[name] = inputSlotSet.has(s) ? slots[s]!.clone() : slots[s]!;
          slots[s] = undefined;
        });
        return out;
      } catch (err) {
        slots.forEach((t, s) => {
          if (t && !inputSlotSet.has(s)) t.dispose();
        });
        throw toEdgeweaveError(err, 'E_EXECUTION');
      }
    },
    dispose() {
      cache.delete(key);
    },
  };
  return stage;
}

/**
 * The executor of `taskIds` of `graph` (a graph of this model, fused or not, sharded or not).
 * Built once per (model, stage): later calls with the same tasks return the same Stage — for
 * the same graph object (task graphs are cached per model and options) without planning it again.
 */
export function compileStage(model: LoadedModel, taskIds: readonly string[], graph: TaskGraph): Stage {
  const tasksKey = taskIds.join('\u0000');
  let known = byTasks.get(graph);
  const hit = known?.get(tasksKey);
  // Still this model's (not disposed, not cleared, not another model's graph).
  if (hit && stages.get(model)?.get(hit.key) === hit) return hit;
  const plan = planStage(graph, model.layerGraph, taskIds);
  const key = createHash('sha256').update(canonicalJson({ steps: plan.steps, inputs: plan.inputNames, outputs: plan.outputNames })).digest('hex').slice(0, 16);
  let cache = stages.get(model);
  if (!cache) stages.set(model, (cache = new Map()));
  let stage = cache.get(key);
  if (!stage) {
    stage = makeStage(model, plan, key, cache);
    cache.set(key, stage);
  }
  if (!known) byTasks.set(graph, (known = new Map()));
  known.set(tasksKey, stage);
  return stage;
}

/** Forgets every cached stage of a model and frees its shard weight slices. */
export function clearStageCache(model: LoadedModel): void {
  stages.delete(model);
  for (const entry of shardWeights.get(model)?.values() ?? []) tf.dispose([entry.kernel, ...(entry.bias ? [entry.bias] : [])]);
  shardWeights.delete(model);
}
