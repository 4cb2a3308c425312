/**
 * Running a job's whole model on its origin: the local fallback when no result comes in time, and
 * the reference a lossy plan's outputs are compared with. The model is the copy this host keeps
 * (zoo name or model.json path), checked against the job's hash; tfjs is loaded only when needed.
 */
import type { Tensor as TfTensor } from '@tensorflow/tfjs';
import { Encoding, Tensor, type JobPlan, type JobRequestInit, type JobResult, type TensorInit } from '../schemas/generated/edgeweave.ts';
import { decodeTensor, encodeTensor, maxDeviation, type TensorData } from '../schemas/tensor-codec.ts';
import { EdgeweaveError } from '../schemas/errors.ts';

/** Whether a plan sent any cut in a lossy encoding (8-bit pixels of an input that came as 8-bit pixels are exact). */
export function usedLossyCuts(plan: JobPlan, request: JobRequestInit): boolean {
  const pixelInputs = new Set((request.inputs ?? []).filter((i) => i.tensor?.encoding === Encoding.ENCODING_UINT8).map((i) => i.taskId ?? ''));
  return plan.stages.some((s) => s.outputs.some((r) => r.encoding === Encoding.ENCODING_FLOAT16 || r.encoding === Encoding.ENCODING_INT8
    || (r.encoding === Encoding.ENCODING_UINT8 && !pixelInputs.has(r.tensor))));
}

/**
 * Runs the whole model here, in float32, on the job's own inline inputs; its outputs by name.
 * `paths` maps a model's hash or id to where this host keeps it; a model not listed is looked up by its id.
 */
async function predictHere(request: JobRequestInit, paths: ReadonlyMap<string, string>): Promise<Map<string, TensorData>> {
  const [{ resolveModel, predictNamed }, tf] = await Promise.all([import('../models/index.ts'), import('@tensorflow/tfjs')]);
  const name = request.model?.name ?? '';
  const model = await resolveModel(paths.get(request.model?.sha256 ?? '') ?? paths.get(name) ?? name);
  if (request.model?.sha256 && !model.modelHash.startsWith(request.model.sha256)) {
    throw new EdgeweaveError('E_MODEL_NOT_FOUND', `the copy of ${name} here has another hash than the job's model`);
  }
  const feed: Record<string, TfTensor> = {};
  try {
    for (const [i, input] of (request.inputs ?? []).entries()) {
      if (!input.tensor) throw new EdgeweaveError('E_INPUT', 'an input held by another device cannot be replayed here');
      const data = decodeTensor(Tensor.create(input.tensor));
      const name = input.taskId || model.inputs[i]?.name || '';
      feed[name] = tf.tensor(data.dtype === 'uint8' ? Float32Array.from(data.values) : data.values, data.shape, data.dtype === 'int32' ? 'int32' : 'float32');
    }
    const out = predictNamed(model, feed);
    const result = new Map<string, TensorData>();
    for (const [name, t] of Object.entries(out)) result.set(name, { dtype: 'float32', shape: t.shape, values: t.dataSync() as Float32Array });
    tf.dispose(Object.values(out));
    return result;
  } finally {
    tf.dispose(Object.values(feed));
  }
}

/** The fallback: the job's outputs computed on the origin itself. */
export async function runLocally(request: JobRequestInit, paths: ReadonlyMap<string, string>): Promise<TensorInit[]> {
  const outputs = await predictHere(request, paths);
  return [...outputs].map(([name, t]) => encodeTensor(t, { name }));
}

/** Runs the model here in float32 on the job's own inputs and compares its outputs with the result's. */
export async function lossyDeviation(request: JobRequestInit, result: JobResult, paths: ReadonlyMap<string, string>): Promise<{ maxAbs: number; maxRel: number }> {
  const reference = await predictHere(request, paths);
  let maxAbs = 0;
  let maxRel = 0;
  for (const out of result.outputs) {
    const ref = reference.get(out.name);
    if (!ref) continue;
    const d = maxDeviation(ref.values, decodeTensor(out).values);
    maxAbs = Math.max(maxAbs, d.maxAbs);
    maxRel = Math.max(maxRel, d.maxRel);
  }
  return { maxAbs, maxRel };
}
