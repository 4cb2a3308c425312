/**
 * Tensors to and from the wire `Tensor` message, without per-element loops for the raw
 * encodings: encoding wraps the typed array's bytes (no copy; protobuf's writer makes the
 * one copy into the message), decoding views the received bytes when they are aligned
 * for the element type and copies exactly once when they are not.
 * Lossy encodings (float16, int8, uint8) convert element by element; they exist to cut
 * bytes on slow links, where the conversion is cheap next to the transfer.
 */
import { endianness } from 'node:os';
import { EdgeweaveError } from './errors.ts';
import { DType, Encoding, type Tensor, type TensorInit } from './generated/edgeweave.ts';

export type TensorDType = 'float32' | 'int32' | 'uint8';
export type TensorValues = Float32Array | Int32Array | Uint8Array;
export type TensorEncodingName = 'raw' | 'float16' | 'int8' | 'uint8';

/** A tensor as plain data: what the runtime hands to and takes from tfjs. */
export interface TensorData {
  dtype: TensorDType;
  shape: number[];
  values: TensorValues;
}

export interface EncodeOptions {
  name?: string;
  /** Lossy encodings apply to float32 tensors only. Default raw. */
  encoding?: TensorEncodingName;
  /** For uint8: fixed quantisation (e.g. pixels: scale 1/255, zeroPoint 0) instead of min/max. */
  scale?: number;
  zeroPoint?: number;
}

export interface DecodeLimits {
  /** Refuse tensors with more elements than this (default 2^28, 1 GiB of float32). */
  maxElements?: number;
  /** Refuse NaN and Infinity in float32 data (default false). */
  requireFinite?: boolean;
}

const DEFAULT_MAX_ELEMENTS = 2 ** 28;

if (endianness() !== 'LE') {
  // Typed arrays use the host's byte order; the wire is little-endian.
  throw new EdgeweaveError('E_CONFIG', 'edgeweave needs a little-endian host for its tensor codec');
}

const DTYPE_TO_WIRE: Record<TensorDType, DType> = { float32: DType.DTYPE_FLOAT32, int32: DType.DTYPE_INT32, uint8: DType.DTYPE_UINT8 };
const ENCODING_TO_WIRE: Record<TensorEncodingName, Encoding> = {
  raw: Encoding.ENCODING_RAW, float16: Encoding.ENCODING_FLOAT16, int8: Encoding.ENCODING_INT8, uint8: Encoding.ENCODING_UINT8,
};

export function encodingName(encoding: Encoding): TensorEncodingName {
  switch (encoding) {
    case Encoding.ENCODING_RAW: return 'raw';
    case Encoding.ENCODING_FLOAT16: return 'float16';
    case Encoding.ENCODING_INT8: return 'int8';
    case Encoding.ENCODING_UINT8: return 'uint8';
  }
}

export function encodingFromName(name: TensorEncodingName): Encoding {
  return ENCODING_TO_WIRE[name];
}

function dtypeName(dtype: DType): TensorDType | undefined {
  switch (dtype) {
    case DType.DTYPE_FLOAT32: return 'float32';
    case DType.DTYPE_INT32: return 'int32';
    case DType.DTYPE_UINT8: return 'uint8';
    case DType.DTYPE_UNSPECIFIED: return undefined;
  }
}

/** Bytes per element of data in `encoding` for a tensor of `dtype`. */
export function bytesPerElement(dtype: TensorDType, encoding: TensorEncodingName): number {
  switch (encoding) {
    case 'raw': return dtype === 'uint8' ? 1 : 4;
    case 'float16': return 2;
    case 'int8':
    case 'uint8': return 1;
  }
}

/** Number of elements of `shape`; throws E_TENSOR on a malformed shape or one above `max`. */
export function elementCount(shape: readonly number[], max = DEFAULT_MAX_ELEMENTS): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new EdgeweaveError('E_TENSOR', `tensor shape [${shape.join(', ')}] has an invalid dimension ${d}`);
    n *= d;
    if (n > max) throw new EdgeweaveError('E_TENSOR', `tensor shape [${shape.join(', ')}] has more than ${max} elements`);
  }
  return n;
}

function bytesOf(values: TensorValues): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Encodes a tensor as a `Tensor` message (raw: no copy of the data). */
export function encodeTensor(tensor: TensorData, options: EncodeOptions = {}): TensorInit {
  const count = elementCount(tensor.shape, Number.MAX_SAFE_INTEGER);
  if (count !== tensor.values.length) {
    throw new EdgeweaveError('E_TENSOR', `tensor shape [${tensor.shape.join(', ')}] needs ${count} elements, values hold ${tensor.values.length}`);
  }
  const encoding = options.encoding ?? 'raw';
  const base = { dtype: DTYPE_TO_WIRE[tensor.dtype], shape: tensor.shape, name: options.name ?? '', encoding: ENCODING_TO_WIRE[encoding] };
  if (encoding === 'raw') return { ...base, data: bytesOf(tensor.values) };
  if (!(tensor.values instanceof Float32Array)) {
    throw new EdgeweaveError('E_TENSOR', `the ${encoding} encoding applies to float32 tensors, not ${tensor.dtype}`);
  }
  switch (encoding) {
    case 'float16': return { ...base, data: toFloat16(tensor.values) };
    case 'int8': {
      const q = quantise(tensor.values, -128, 127, options);
      return { ...base, data: q.bytes, scale: q.scale, zeroPoint: q.zeroPoint };
    }
    case 'uint8': {
      const q = quantise(tensor.values, 0, 255, options);
      return { ...base, data: q.bytes, scale: q.scale, zeroPoint: q.zeroPoint };
    }
  }
}

/**
 * Decodes a `Tensor` message. Raw data aligned for its element type is viewed, not
 * copied; unaligned data is copied once. Throws E_TENSOR on any inconsistency.
 */
/** What a `Tensor` message says of its data: checked dtype, encoding, shape and byte size. */
interface TensorHeader {
  dtype: TensorDType;
  encoding: TensorEncodingName;
  shape: number[];
  count: number;
  /** Bytes its data must have. */
  bytes: number;
}

function tensorHeader(message: Tensor, maxElements: number): TensorHeader {
  const dtype = dtypeName(message.dtype);
  if (dtype === undefined) throw new EdgeweaveError('E_TENSOR', `tensor ${JSON.stringify(message.name)} has an unknown dtype ${message.dtype}`);
  const encodingKnown = Object.values(Encoding).includes(message.encoding);
  if (!encodingKnown) throw new EdgeweaveError('E_TENSOR', `tensor ${JSON.stringify(message.name)} has an unknown encoding ${message.encoding}`);
  const encoding = encodingName(message.encoding);
  if (encoding !== 'raw' && dtype !== 'float32') {
    throw new EdgeweaveError('E_TENSOR', `tensor ${JSON.stringify(message.name)}: the ${encoding} encoding applies to float32 tensors, not ${dtype}`);
  }
  if ((encoding === 'int8' || encoding === 'uint8') && (!Number.isFinite(message.scale) || !Number.isFinite(message.zeroPoint))) {
    throw new EdgeweaveError('E_TENSOR', `tensor ${JSON.stringify(message.name)} has a non-finite quantisation scale or zero point`);
  }
  const shape = [...message.shape];
  const count = elementCount(shape, maxElements);
  return { dtype, encoding, shape, count, bytes: count * bytesPerElement(dtype, encoding) };
}

/**
 * Checks a tensor described without its data (a job input the origin holds): dtype, encoding,
 * quantisation and shape as `decodeTensor` would, data empty. Throws E_TENSOR when wrong.
 */
export function describedTensorProblem(message: Tensor, maxElements = DEFAULT_MAX_ELEMENTS): void {
  tensorHeader(message, maxElements);
  if (message.data.byteLength !== 0) throw new EdgeweaveError('E_TENSOR', `tensor ${JSON.stringify(message.name)} describes data it should not carry (${message.data.byteLength} bytes)`);
}

export function decodeTensor(message: Tensor, limits: DecodeLimits = {}): TensorData {
  const { dtype, encoding, shape, count, bytes: expected } = tensorHeader(message, limits.maxElements ?? DEFAULT_MAX_ELEMENTS);
  const data = message.data;
  if (data.byteLength !== expected) {
    throw new EdgeweaveError('E_TENSOR', `tensor ${JSON.stringify(message.name)} of shape [${shape.join(', ')}] ${dtype}/${encoding} needs ${expected} bytes, has ${data.byteLength}`);
  }
  let values: TensorValues;
  switch (encoding) {
    case 'raw': values = viewOrCopy(dtype, data, count); break;
    case 'float16': values = fromFloat16(data, count); break;
    case 'int8':
    case 'uint8': {
      values = dequantise(data, count, encoding === 'int8', message.scale, message.zeroPoint);
      break;
    }
  }
  if (limits.requireFinite && values instanceof Float32Array && !allFinite(values)) {
    throw new EdgeweaveError('E_TENSOR', `tensor ${JSON.stringify(message.name)} holds NaN or Infinity`);
  }
  return { dtype, shape, values };
}

function viewOrCopy(dtype: TensorDType, data: Uint8Array, count: number): TensorValues {
  if (dtype === 'uint8') return new Uint8Array(data.buffer, data.byteOffset, count);
  const aligned = data.byteOffset % 4 === 0;
  if (dtype === 'float32') {
    if (aligned) return new Float32Array(data.buffer, data.byteOffset, count);
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(data);
    return out;
  }
  if (aligned) return new Int32Array(data.buffer, data.byteOffset, count);
  const out = new Int32Array(count);
  new Uint8Array(out.buffer).set(data);
  return out;
}

function allFinite(values: Float32Array): boolean {
  // x * 0 is NaN for NaN and for +-Infinity, 0 otherwise: one sum, no branch per element.
  let acc = 0;
  for (let i = 0; i < values.length; i++) acc += values[i]! * 0;
  return acc === 0;
}

// ---- float16 ---------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function halfOf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> 0
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++; // round to nearest even
  return half;
}

let halfTable: Float32Array | undefined;

function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) table[h] = mant ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  halfTable = table;
  return table;
}

function toFloat16(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = halfOf(values[i]!);
  return new Uint8Array(out.buffer);
}

function fromFloat16(data: Uint8Array, count: number): Float32Array {
  let halves: Uint16Array;
  if (data.byteOffset % 2 === 0) halves = new Uint16Array(data.buffer, data.byteOffset, count);
  else {
    halves = new Uint16Array(count);
    new Uint8Array(halves.buffer).set(data);
  }
  const table = halfToFloatTable();
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = table[halves[i]!]!;
  return out;
}

// ---- affine 8-bit ----------------------------------------------------------

function quantise(values: Float32Array, qmin: number, qmax: number, options: EncodeOptions): { bytes: Uint8Array; scale: number; zeroPoint: number } {
  let scale = options.scale;
  let zeroPoint = options.zeroPoint;
  if (scale === undefined || zeroPoint === undefined) {
    let lo = 0;
    let hi = 0; // the range always holds 0 so that 0 is exact
    let finite = true;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      else if (v > hi) hi = v;
      else if (v - v !== 0) finite = false;
    }
    if (!finite || !Number.isFinite(lo) || !Number.isFinite(hi)) throw new EdgeweaveError('E_TENSOR', 'cannot quantise a tensor that holds NaN or Infinity');
    scale = hi > lo ? (hi - lo) / (qmax - qmin) : 1;
    zeroPoint = Math.round(qmin - lo / scale);
  }
  if (!(scale > 0) || !Number.isFinite(scale)) throw new EdgeweaveError('E_TENSOR', `quantisation scale must be a positive number, got ${scale}`);
  const inv = 1 / scale;
  const bytes = new Uint8Array(values.length);
  const signed = qmin < 0;
  for (let i = 0; i < values.length; i++) {
    let q = Math.round(values[i]! * inv + zeroPoint);
    if (q < qmin) q = qmin;
    else if (q > qmax) q = qmax;
    bytes[i] = signed ? q & 0xff : q;
  }
  return { bytes, scale, zeroPoint };
}

function dequantise(data: Uint8Array, count: number, signed: boolean, scale: number, zeroPoint: number): Float32Array {
  const out = new Float32Array(count);
  const q = signed ? new Int8Array(data.buffer, data.byteOffset, count) : data;
  for (let i = 0; i < count; i++) out[i] = (q[i]! - zeroPoint) * scale;
  return out;
}

/** Largest absolute and relative (to the reference's largest magnitude) difference between two tensors' values. */
export function maxDeviation(reference: ArrayLike<number>, other: ArrayLike<number>): { maxAbs: number; maxRel: number } {
  if (reference.length !== other.length) throw new EdgeweaveError('E_TENSOR', `cannot compare tensors of ${reference.length} and ${other.length} elements`);
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(reference[i]! - other[i]!);
    if (d > maxAbs || Number.isNaN(d)) maxAbs = d;
    const m = Math.abs(reference[i]!);
    if (m > scale) scale = m;
  }
  return { maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs };
}
