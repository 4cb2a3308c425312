/**
 * The inputs of a job from command-line style specs:
 *   random[:seed]            every model input, seeded uniform [0, 1)
 *   pixels[:seed]            every image input, seeded random 8-bit pixels (a synthetic camera frame)
 *   photo.png | photo.jpg    the model's image input, resized, sent as 8-bit pixels
 *   <task>=<src>             one input: src is random[:seed], an image, or @<device>:<key>
 *                            (data held by that device, which supplies it)
 * Images travel as their uint8 pixels (a quarter of float32's bytes) with the scale and zero
 * point of the model's preprocessing (`unit`: 1/255; `tf`: 1/127.5 around 127.5): what the model
 * sees is exactly the rounded resized image, preprocessed. Preprocessing that is not one affine
 * map of every pixel (`caffe`, `torch`) is applied here and sent as float32.
 */
import { readFile } from 'node:fs/promises';
import { DType, Encoding, type JobInputInit, type TensorInit } from '../schemas/generated/edgeweave.ts';
import { encodeTensor } from '../schemas/tensor-codec.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import { seededUniform } from './data-sources.ts';
import { pixelQuantisation, preprocessPixels, type Preprocessing } from '../models/preprocessing.ts';

/** 8-bit pixels ([1, H, W, C]) as the model's input tensor under its preprocessing. */
function pixelTensor(pixels: Uint8Array, shape: readonly number[], name: string, mode: Preprocessing): TensorInit {
  const q = pixelQuantisation(mode);
  if (q) return { dtype: DType.DTYPE_FLOAT32, shape: [...shape], encoding: Encoding.ENCODING_UINT8, data: pixels, scale: q.scale, zeroPoint: q.zeroPoint, name };
  return encodeTensor({ dtype: 'float32', shape: [...shape], values: preprocessPixels(pixels, shape.at(-1) ?? 1, mode) }, { name });
}


function randomTensor(shape: readonly number[], seed: number, name: string): TensorInit {
  const count = shape.reduce((a, b) => a * b, 1);
  return encodeTensor({ dtype: 'float32', shape: [1, ...shape], values: seededUniform(count, seed) }, { name });
}

async function imageTensorInit(path: string, shape: readonly number[], name: string, mode: Preprocessing): Promise<TensorInit> {
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
    return pixelTensor(pixels, t.shape, name, mode);
  } finally {
    t.dispose();
  }
}

const IMAGE = /\.(png|jpe?g)$/i;

async function sourceFor(task: string, shape: readonly number[], src: string, mode: Preprocessing): Promise<JobInputInit> {
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
    return { taskId: task, tensor: pixelTensor(data, [1, ...shape], task, mode) };
  }
  if (src.startsWith('@')) {
    const m = /^@([A-Za-z0-9._-]{1,64}):([A-Za-z0-9._-]{1,64})$/.exec(src);
    if (!m) throw new EdgeweaveError('E_USAGE', `--input ${task}=${src}: expected @<device>:<key>`);
    return { taskId: task, sourceDevice: m[1]!, sourceKey: m[2]! };
  }
  if (IMAGE.test(src)) return { taskId: task, tensor: await imageTensorInit(src, shape, task, mode) };
  throw new EdgeweaveError('E_USAGE', `--input "${src}": use random[:seed], pixels[:seed], an image (.png, .jpg), or <input>=@<device>:<key>`);
}

/**
 * The job inputs `specs` describe for `graph`'s model; image inputs follow `preprocessing`
 * (by input task id; default `unit`).
 */
export async function buildJobInputs(graph: TaskGraph, specs: readonly string[], preprocessing: ReadonlyMap<string, Preprocessing> = new Map()): Promise<JobInputInit[]> {
  const modeOf = (task: string): Preprocessing => preprocessing.get(task) ?? 'unit';
  const shapeOf = new Map(graph.tasks.filter((t) => graph.inputs.includes(t.id)).map((t) => [t.id, t.outputShape]));
  const chosen = new Map<string, JobInputInit>();
  const list = specs.length === 0 ? ['random'] : specs;
  for (const spec of list) {
    const eq = spec.indexOf('=');
    if (eq > 0 && !IMAGE.test(spec.slice(0, eq))) {
      const task = spec.slice(0, eq);
      const shape = shapeOf.get(task);
      if (!shape) throw new EdgeweaveError('E_USAGE', `--input ${spec}: ${graph.modelId} has no input "${task}" (inputs: ${graph.inputs.join(', ')})`);
      chosen.set(task, await sourceFor(task, shape, spec.slice(eq + 1), modeOf(task)));
    } else if (IMAGE.test(spec)) {
      const task = graph.inputs.find((t) => { const s = shapeOf.get(t)!; return s.length === 3 && (s[2] === 3 || s[2] === 1) && !chosen.has(t); });
      if (!task) throw new EdgeweaveError('E_USAGE', `--input ${spec}: ${graph.modelId} has no (free) image input`);
      chosen.set(task, await sourceFor(task, shapeOf.get(task)!, spec, modeOf(task)));
    } else {
      for (const task of graph.inputs) if (!chosen.has(task)) chosen.set(task, await sourceFor(task, shapeOf.get(task)!, spec, modeOf(task)));
    }
  }
  const missing = graph.inputs.filter((t) => !chosen.has(t));
  if (missing.length > 0) throw new EdgeweaveError('E_USAGE', `no --input for ${missing.join(', ')} of ${graph.modelId}`);
  return graph.inputs.map((t) => chosen.get(t)!);
}
