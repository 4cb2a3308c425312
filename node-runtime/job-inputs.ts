/**
 * The inputs of a job from command-line style specs:
 *   random[:seed]            every model input, seeded uniform [0, 1)
 *   pixels[:seed]            every image input, seeded random 8-bit pixels (a synthetic camera frame)
 *   photo.png | photo.jpg    the model's image input, resized, sent as 8-bit pixels
 *   <task>=<src>             one input: src is random[:seed], an image, or @<device>:<key>
 *                            (data held by that device, which supplies it)
 * Images travel as their uint8 pixels (a quarter of float32's bytes) with scale 1/255:
 * what the model sees is exactly the rounded resized image.
 */
import { readFile } from 'node:fs/promises';
import { DType, Encoding, type JobInputInit, type TensorInit } from '../schemas/generated/edgeweave.ts';
import { encodeTensor } from '../schemas/tensor-codec.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import { seededUniform } from './data-sources.ts';


function randomTensor(shape: readonly number[], seed: number, name: string): TensorInit {
  const count = shape.reduce((a, b) => a * b, 1);
  return encodeTensor({ dtype: 'float32', shape: [1, ...shape], values: seededUniform(count, seed) }, { name });
}

async function imageTensorInit(path: string, shape: readonly number[], name: string): Promise<TensorInit> {
  if (shape.length !== 3 || (shape[2] !== 3 && shape[2] !== 1)) throw new EdgeweaveError('E_INPUT', `input ${name} has shape [${shape.join(', ')}], not an image [H, W, 1|3]`);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new EdgeweaveError('E_INPUT', `cannot read image ${path}: ${(err as Error).message}`, { cause: err });
  }
  const { decodeImage, imageTensor } = await import('../models/index.ts');
  const t = imageTensor(decodeImage(bytes, path), { name, shape: [...shape] });
  try {
    const values = t.dataSync();
    const pixels = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) pixels[i] = Math.round(values[i]! * 255);
    return { dtype: DType.DTYPE_FLOAT32, shape: t.shape, encoding: Encoding.ENCODING_UINT8, data: pixels, scale: 1 / 255, zeroPoint: 0, name };
  } finally {
    t.dispose();
  }
}

const IMAGE = /\.(png|jpe?g)$/i;

async function sourceFor(task: string, shape: readonly number[], src: string): Promise<JobInputInit> {
  if (src === 'random' || src.startsWith('random:')) {
    const seed = src === 'random' ? 0 : Number(src.slice(7));
    if (!Number.isInteger(seed)) throw new EdgeweaveError('E_USAGE', `--input ${src}: the seed must be a whole number`);
    return { taskId: task, tensor: randomTensor(shape, seed, task) };
  }
  if (src === 'pixels' || src.startsWith('pixels:')) {
    const seed = src === 'pixels' ? 0 : Number(src.slice(7));
    if (!Number.isInteger(seed)) throw new EdgeweaveError('E_USAGE', `--input ${src}: the seed must be a whole number`);
    if (shape.length !== 3 || (shape[2] !== 3 && shape[2] !== 1)) return { taskId: task, tensor: randomTensor(shape, seed, task) };
    const noise = seededUniform(shape.reduce((a, b) => a * b, 1), seed);
    const data = Uint8Array.from(noise, (v) => Math.floor(v * 256));
    return { taskId: task, tensor: { dtype: DType.DTYPE_FLOAT32, shape: [1, ...shape], encoding: Encoding.ENCODING_UINT8, data, scale: 1 / 255, zeroPoint: 0, name: task } };
  }
  if (src.startsWith('@')) {
    const m = /^@([A-Za-z0-9._-]{1,64}):([A-Za-z0-9._-]{1,64})$/.exec(src);
    if (!m) throw new EdgeweaveError('E_USAGE', `--input ${task}=${src}: expected @<device>:<key>`);
    return { taskId: task, sourceDevice: m[1]!, sourceKey: m[2]! };
  }
  if (IMAGE.test(src)) return { taskId: task, tensor: await imageTensorInit(src, shape, task) };
  throw new EdgeweaveError('E_USAGE', `--input "${src}": use random[:seed], pixels[:seed], an image (.png, .jpg), or <input>=@<device>:<key>`);
}

export async function buildJobInputs(graph: TaskGraph, specs: readonly string[]): Promise<JobInputInit[]> {
  const shapeOf = new Map(graph.tasks.filter((t) => graph.inputs.includes(t.id)).map((t) => [t.id, t.outputShape]));
  const chosen = new Map<string, JobInputInit>();
  const list = specs.length === 0 ? ['random'] : specs;
  for (const spec of list) {
    const eq = spec.indexOf('=');
    if (eq > 0 && !IMAGE.test(spec.slice(0, eq))) {
      const task = spec.slice(0, eq);
      const shape = shapeOf.get(task);
      if (!shape) throw new EdgeweaveError('E_USAGE', `--input ${spec}: ${graph.modelId} has no input "${task}" (inputs: ${graph.inputs.join(', ')})`);
      chosen.set(task, await sourceFor(task, shape, spec.slice(eq + 1)));
    } else if (IMAGE.test(spec)) {
      const task = graph.inputs.find((t) => { const s = shapeOf.get(t)!; return s.length === 3 && (s[2] === 3 || s[2] === 1) && !chosen.has(t); });
      if (!task) throw new EdgeweaveError('E_USAGE', `--input ${spec}: ${graph.modelId} has no (free) image input`);
      chosen.set(task, await sourceFor(task, shapeOf.get(task)!, spec));
    } else {
      for (const task of graph.inputs) if (!chosen.has(task)) chosen.set(task, await sourceFor(task, shapeOf.get(task)!, spec));
    }
  }
  const missing = graph.inputs.filter((t) => !chosen.has(t));
  if (missing.length > 0) throw new EdgeweaveError('E_USAGE', `no --input for ${missing.join(', ')} of ${graph.modelId}`);
  return graph.inputs.map((t) => chosen.get(t)!);
}
