/**
 * Reading Keras layer configs (the snake_case `config` objects of a model.json topology)
 * with clear errors, and the small shape arithmetic every layer kind shares.
 */
import { EdgeweaveError } from '../../schemas/errors.ts';

/** A shape for one sample: the batch dimension excluded, every dimension known. */
export type Shape = readonly number[];

export type LayerConfig = Readonly<Record<string, unknown>>;

/** Typed access to one layer's config; errors name the layer and its class. */
export class ConfigReader {
  readonly layerName: string;
  readonly className: string;
  private readonly config: LayerConfig;

  constructor(layerName: string, className: string, config: LayerConfig) {
    this.layerName = layerName;
    this.className = className;
    this.config = config;
  }

  has(key: string): boolean {
    return this.config[key] !== undefined && this.config[key] !== null;
  }

  raw(key: string): unknown {
    return this.config[key];
  }

  number(key: string, fallback?: number): number {
    const v = this.config[key];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number') return v[0];
    throw this.malformed(key, v);
  }

  string(key: string, fallback?: string): string {
    const v = this.config[key];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v === 'string') return v;
    throw this.malformed(key, v);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.config[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'boolean') return v;
    throw this.malformed(key, v);
  }

  /** An int or a list of `n` ints (Keras accepts both for kernel_size, strides, ...). */
  tuple(key: string, n: number, fallback?: readonly number[]): number[] {
    const v = this.config[key];
    if ((v === undefined || v === null) && fallback !== undefined) return [...fallback];
    if (typeof v === 'number') return Array.from({ length: n }, () => v);
    if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number')) return v as number[];
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number') return Array.from({ length: n }, () => v[0] as number);
    throw this.malformed(key, v);
  }

  /** A list of numbers of any length (target_shape, dims). */
  list(key: string): number[] {
    const v = this.config[key];
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
    throw this.malformed(key, v);
  }

  /** Activation name of a layer with a built-in activation; non-string forms are unsupported. */
  activation(key = 'activation'): string {
    const v = this.config[key];
    if (v === undefined || v === null) return 'linear';
    if (typeof v === 'string') return v;
    if (typeof v === 'object' && typeof (v as { class_name?: unknown }).class_name === 'string') {
      return ((v as { class_name: string }).class_name).toLowerCase();
    }
    throw this.malformed(key, v);
  }

  /** Only channels_last (NHWC) is supported, as in tfjs. */
  requireChannelsLast(): void {
    const format = this.config['data_format'];
    if (format !== undefined && format !== null && format !== 'channels_last') {
      throw this.unsupported(`data_format "${String(format)}" (only channels_last is supported)`);
    }
  }

  unsupported(what: string): EdgeweaveError {
    return new EdgeweaveError('E_UNSUPPORTED_LAYER', `layer "${this.layerName}" (class ${this.className}) uses ${what}`);
  }

  shapeError(message: string): EdgeweaveError {
    return new EdgeweaveError('E_MODEL_LOAD', `layer "${this.layerName}" (class ${this.className}): ${message}`);
  }

  private malformed(key: string, value: unknown): EdgeweaveError {
    return new EdgeweaveError('E_MODEL_LOAD', `layer "${this.layerName}" (class ${this.className}) has a malformed config field ${key}: ${JSON.stringify(value) ?? 'undefined'}`);
  }
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Output length of a convolution or pooling window along one axis (Keras conv_output_length). */
export function windowOutputLength(length: number, window: number, stride: number, padding: string, dilation = 1): number {
  const span = window + (window - 1) * (dilation - 1);
  if (padding === 'same' || padding === 'causal') return Math.ceil(length / stride);
  if (padding === 'valid') return Math.ceil((length - span + 1) / stride);
  return NaN;
}

/** Rough FLOPs per element of an activation function. */
export function activationFlopsPerElement(name: string): number {
  switch (name) {
    case 'linear':
      return 0;
    case 'relu':
    case 'relu6':
      return 1;
    case 'softmax':
      return 5;
    default:
      return 4;
  }
}

/** The input's single shape, for layers that take exactly one input. */
export function single(cfg: ConfigReader, inputs: readonly Shape[]): Shape {
  const [x] = inputs;
  if (inputs.length !== 1 || x === undefined) throw cfg.shapeError(`expects one input, got ${inputs.length}`);
  return x;
}

/** A Keras axis (counting the batch as axis 0 when positive) as an index into a per-sample shape. */
export function sampleAxis(cfg: ConfigReader, axis: number, rank: number): number {
  const index = axis < 0 ? rank + axis : axis - 1;
  if (index < 0 || index >= rank) throw cfg.shapeError(`axis ${axis} is out of range for rank ${rank + 1}`);
  return index;
}
