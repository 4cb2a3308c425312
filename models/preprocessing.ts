/**
 * How image pixels become a model's input. A model states it in its model.json metadata
 * (`userDefinedMetadata.preprocessing`, as `tensorflowjs_converter --metadata` writes it);
 * otherwise edgeweave assumes `unit`, which is what its own zoo models take. The modes are
 * those of keras.applications. Pure arithmetic, no tfjs.
 */
import { EdgeweaveError } from '../schemas/errors.ts';

export const PREPROCESSING_MODES = ['unit', 'tf', 'caffe', 'torch', 'none'] as const;
export type Preprocessing = (typeof PREPROCESSING_MODES)[number];

export const DEFAULT_PREPROCESSING: Preprocessing = 'unit';

const IMAGENET_MEAN_RGB = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD_RGB = [0.229, 0.224, 0.225] as const;
/** Caffe's per-channel means, in BGR order, on 0-255 values. */
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;

export function isPreprocessing(value: unknown): value is Preprocessing {
  return typeof value === 'string' && (PREPROCESSING_MODES as readonly string[]).includes(value);
}

/** The preprocessing a model's metadata states, or the default (then `declared` is false). */
export function preprocessingOf(metadata: Record<string, unknown> | undefined, where: string): { mode: Preprocessing; declared: boolean } {
  const raw = metadata?.['preprocessing'];
  if (raw === undefined) return { mode: DEFAULT_PREPROCESSING, declared: false };
  if (!isPreprocessing(raw)) {
    throw new EdgeweaveError('E_MODEL_LOAD', `${where}: metadata "preprocessing" is ${JSON.stringify(raw)}; use one of ${PREPROCESSING_MODES.join(', ')}`);
  }
  return { mode: raw, declared: true };
}

/** The range of input values a mode produces from 8-bit pixels. */
export function preprocessedRange(mode: Preprocessing): [number, number] {
  switch (mode) {
    case 'unit': return [0, 1];
    case 'tf': return [-1, 1];
    case 'none': return [0, 255];
    case 'caffe': return [-Math.max(...CAFFE_MEAN_BGR), 255 - Math.min(...CAFFE_MEAN_BGR)];
    case 'torch': {
      const lo = Math.min(...IMAGENET_MEAN_RGB.map((m, c) => -m / IMAGENET_STD_RGB[c]!));
      const hi = Math.max(...IMAGENET_MEAN_RGB.map((m, c) => (1 - m) / IMAGENET_STD_RGB[c]!));
      return [lo, hi];
    }
  }
}

/**
 * For modes that are one affine map of every pixel: the uint8 quantisation (value = (q - zeroPoint)
 * x scale) that makes 8-bit pixels the model's input on the wire, at a quarter of float32's bytes.
 */
export function pixelQuantisation(mode: Preprocessing): { scale: number; zeroPoint: number } | undefined {
  switch (mode) {
    case 'unit': return { scale: 1 / 255, zeroPoint: 0 };
    case 'tf': return { scale: 1 / 127.5, zeroPoint: 127.5 };
    case 'none': return { scale: 1, zeroPoint: 0 };
    default: return undefined;
  }
}

/**
 * Applies a mode to interleaved 8-bit pixels ([H, W, C], C = 1 or 3, RGB order) in place on
 * a float copy; `caffe` also reorders RGB to BGR.
 */
export function preprocessPixels(pixels: ArrayLike<number>, channels: number, mode: Preprocessing): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const v = pixels[i + c]!;
      const rgb = channels === 3 ? c : 0;
      switch (mode) {
        case 'unit': out[i + c] = v / 255; break;
        case 'tf': out[i + c] = v / 127.5 - 1; break;
        case 'none': out[i + c] = v; break;
        case 'torch': out[i + c] = (v / 255 - IMAGENET_MEAN_RGB[rgb]!) / IMAGENET_STD_RGB[rgb]!; break;
        case 'caffe': {
          // Output channel c takes input channel 2 - c (RGB -> BGR).
          const src = channels === 3 ? pixels[i + 2 - c]! : v;
          out[i + c] = src - CAFFE_MEAN_BGR[channels === 3 ? c : 0]!;
          break;
        }
      }
    }
  }
  return out;
}
