/**
 * Model inputs: seeded random tensors, JPEG/PNG images decoded (jpeg-js, pngjs) and resized
 * to the model's input, and the top-k classes of an output.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { LoadedModel, TensorSpec } from './loaded-model.ts';
import { fillUniform, seedFrom } from './prng.ts';
import { preprocessPixels, type Preprocessing } from './preprocessing.ts';
import type { TensorMap } from './stage.ts';

/** Seeded uniform [0, 1) tensors for every model input, batch 1, named by input task id. */
export function randomInput(model: Pick<LoadedModel, 'inputs'>, seed = 0): TensorMap {
  const out: TensorMap = {};
  for (const spec of model.inputs) {
    const data = fillUniform(new Float32Array(spec.shape.reduce((a, b) => a * b, 1)), seedFrom(spec.name, seed), 0, 1);
    out[spec.name] = tf.tensor(data, [1, ...spec.shape], 'float32');
  }
  return out;
}

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA, 8 bits per channel. */
  data: Uint8Array;
}

/** Decodes a JPEG or PNG (recognised by its signature). */
export function decodeImage(bytes: Uint8Array, what = 'image'): DecodedImage {
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (err) {
    throw new EdgeweaveError('E_INPUT', `${what} cannot be decoded: ${(err as Error).message}`, { cause: err });
  }
  throw new EdgeweaveError('E_INPUT', `${what} is neither a JPEG nor a PNG`);
}

/** The model input an image feeds: `name`, else the first input shaped [H, W, 1 or 3]. */
export function imageInputOf(model: Pick<LoadedModel, 'inputs' | 'modelId'>, name?: string): TensorSpec {
  const spec = name !== undefined ? model.inputs.find((i) => i.name === name) : model.inputs.find((i) => i.shape.length === 3 && (i.shape[2] === 3 || i.shape[2] === 1));
  if (!spec) throw new EdgeweaveError('E_INPUT', name !== undefined ? `${model.modelId} has no input ${name}` : `${model.modelId} has no image input ([height, width, 1 or 3])`);
  if (spec.shape.length !== 3 || (spec.shape[2] !== 3 && spec.shape[2] !== 1)) {
    throw new EdgeweaveError('E_INPUT', `input ${spec.name} has shape [${spec.shape.join(', ')}], not an image`);
  }
  return spec;
}

/** An image as a [1, H, W, C] float tensor in [0, 1], bilinearly resized (half-pixel centres, as TF2) to the input's size. */
export function imageTensor(image: DecodedImage, spec: TensorSpec): tf.Tensor4D {
  const [height, width, channels] = spec.shape as [number, number, number];
  return tf.tidy(() => {
    const rgba = tf.tensor3d(image.data, [image.height, image.width, 4], 'int32');
    let rgb: tf.Tensor3D = rgba.slice([0, 0, 0], [image.height, image.width, 3]).toFloat();
    if (channels === 1) rgb = tf.image.rgbToGrayscale(rgb);
    const resized = image.height === height && image.width === width ? rgb : tf.image.resizeBilinear(rgb, [height, width], false, true);
    return resized.div(255).expandDims(0) as tf.Tensor4D;
  });
}

/** An image tensor in [0, 1] (from `imageTensor`) under another preprocessing; disposes its input. */
export function preprocessImage(unit: tf.Tensor4D, mode: Preprocessing): tf.Tensor4D {
  if (mode === 'unit') return unit;
  const pixels = Uint8Array.from(unit.dataSync(), (v) => Math.round(v * 255));
  const shape = unit.shape;
  unit.dispose();
  return tf.tensor4d(preprocessPixels(pixels, shape[3], mode), shape);
}

/** Reads a JPEG or PNG file as the model's image input, preprocessed as the model says: `{ [inputName]: tensor }`. */
export async function loadImageTensor(file: string, model: Pick<LoadedModel, 'inputs' | 'modelId'> & { about?: LoadedModel['about'] }, inputName?: string): Promise<TensorMap> {
  const spec = imageInputOf(model, inputName);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new EdgeweaveError('E_INPUT', `cannot read image ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { [spec.name]: preprocessImage(imageTensor(decodeImage(bytes, file), spec), model.about?.preprocessing ?? 'unit') };
}

export interface ClassScore {
  index: number;
  label: string;
  score: number;
}

/** The k best classes of the first sample of `output` (labels when the model has them). */
export function topK(output: tf.Tensor, labels: readonly string[] | undefined, k = 5): ClassScore[] {
  const { values, indices } = tf.tidy(() => {
    const row = output.reshape([-1, output.shape.at(-1) ?? 1]).slice([0, 0], [1, -1]);
    const r = tf.topk(row, Math.min(k, output.shape.at(-1) ?? 1));
    return { values: r.values, indices: r.indices };
  });
  const v = values.dataSync();
  const i = indices.dataSync();
  tf.dispose([values, indices]);
  return Array.from(i, (index, n) => ({ index, label: labels?.[index] ?? `class ${index}`, score: v[n] ?? 0 }));
}
