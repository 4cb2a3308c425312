import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, DType, Encoding } from '../../schemas/generated/edgeweave.ts';
import { decodeTensor, encodeTensor, maxDeviation, type TensorData } from '../../schemas/tensor-codec.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

/** Encode to protobuf bytes placed at `offset` in a fresh buffer, then decode: what a receiver sees. */
function wireRoundTrip(tensor: TensorData, offset = 0, options: Parameters<typeof encodeTensor>[1] = {}): { decoded: TensorData; received: Uint8Array } {
  const bytes = Tensor.encode(encodeTensor(tensor, options));
  const backing = new Uint8Array(bytes.byteLength + offset);
  backing.set(bytes, offset);
  const received = backing.subarray(offset);
  return { decoded: decodeTensor(Tensor.decode(received)), received };
}

function seeded(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 8 - 4;
  }
  return out;
}

const SHAPES: number[][] = [[], [1], [0], [3, 0, 2], [7], [2, 3, 4], [1, 5, 5, 3]];

for (const shape of SHAPES) {
  const n = shape.reduce((a, b) => a * b, 1);
  test(`tensor codec — float32/int32/uint8 round trip for shape [${shape.join(',')}]`, () => {
    const f = seeded(n);
    const i = Int32Array.from(f, (x) => Math.round(x * 1e6));
    const u = Uint8Array.from(f, (x) => Math.floor((x + 4) * 31));
    for (const t of [
      { dtype: 'float32', shape, values: f },
      { dtype: 'int32', shape, values: i },
      { dtype: 'uint8', shape, values: u },
    ] as TensorData[]) {
      for (const offset of [0, 1, 2, 3]) {
        const { decoded } = wireRoundTrip(t, offset);
        assert.equal(decoded.dtype, t.dtype);
        assert.deepEqual(decoded.shape, shape);
        assert.deepEqual(Array.from(decoded.values), Array.from(t.values));
        assert.equal(decoded.values.constructor, t.values.constructor);
      }
    }
  });
}

test('tensor codec — aligned received bytes are viewed, not copied', () => {
  const tensor: TensorData = { dtype: 'float32', shape: [64, 64], values: seeded(4096) };
  // Find an offset that lands the data field on a 4-byte boundary.
  let found = false;
  for (let offset = 0; offset < 4; offset++) {
    const { decoded, received } = wireRoundTrip(tensor, offset);
    const view = Tensor.decode(received).data;
    if (view.byteOffset % 4 === 0) {
      assert.equal(decoded.values.buffer, received.buffer, 'aligned data must be a view of the received buffer');
      found = true;
    } else {
      assert.notEqual(decoded.values.buffer, received.buffer, 'unaligned data must be copied');
      assert.equal(decoded.values.buffer.byteLength, 4096 * 4, 'unaligned data is copied exactly once into a buffer of its own size');
    }
  }
  assert.ok(found);
});

test('tensor codec — encoding wraps the values without copying them', () => {
  const values = seeded(100);
  const message = encodeTensor({ dtype: 'float32', shape: [100], values });
  assert.equal(message.data?.buffer, values.buffer);
});

test('tensor codec — float16 halves the bytes and keeps ~1e-3 relative error', () => {
  const values = seeded(10000, 7);
  const { decoded, received } = wireRoundTrip({ dtype: 'float32', shape: [100, 100], values }, 0, { encoding: 'float16' });
  assert.ok(received.byteLength < 10000 * 2 + 64);
  const { maxRel } = maxDeviation(values, decoded.values);
  assert.ok(maxRel < 1e-3, `float16 relative error ${maxRel}`);
});

test('tensor codec — float16 special values', () => {
  const values = new Float32Array([0, -0, 1, -2.5, 65504, 1e6, -1e6, Infinity, -Infinity, NaN, 6e-8, 1e-10, 0.1]);
  const { decoded } = wireRoundTrip({ dtype: 'float32', shape: [values.length], values }, 0, { encoding: 'float16' });
  const d = Array.from(decoded.values);
  assert.equal(d[0], 0);
  assert.ok(Object.is(d[1], -0));
  assert.equal(d[2], 1);
  assert.equal(d[3], -2.5);
  assert.equal(d[4], 65504);
  assert.equal(d[5], Infinity);
  assert.equal(d[6], -Infinity);
  assert.equal(d[7], Infinity);
  assert.equal(d[8], -Infinity);
  assert.ok(Number.isNaN(d[9]));
  assert.ok(Math.abs(d[10]! - 6e-8) < 3e-8, `subnormal ${d[10]}`);
  assert.equal(d[11], 0);
  assert.ok(Math.abs(d[12]! - 0.1) < 1e-4);
});

test('tensor codec — int8 and uint8 quarter the bytes with bounded error', () => {
  const values = seeded(5000, 3);
  for (const encoding of ['int8', 'uint8'] as const) {
    const { decoded, received } = wireRoundTrip({ dtype: 'float32', shape: [5000], values }, 1, { encoding });
    assert.ok(received.byteLength < 5000 + 64);
    const { maxAbs } = maxDeviation(values, decoded.values);
    assert.ok(maxAbs <= 8 / 255 / 2 + 1e-6, `${encoding} max abs error ${maxAbs}`);
  }
});

test('tensor codec — uint8 pixels with a fixed scale are exact', () => {
  const pixels = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
  const values = Float32Array.from(pixels, (p) => p / 255);
  const { decoded } = wireRoundTrip({ dtype: 'float32', shape: [10, 10, 3], values }, 0, { encoding: 'uint8', scale: 1 / 255, zeroPoint: 0 });
  const { maxAbs } = maxDeviation(values, decoded.values);
  assert.ok(maxAbs < 1e-7, `pixel error ${maxAbs}`);
});

function expectTensorError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof EdgeweaveError && err.code === 'E_TENSOR' && pattern.test(err.message));
}

test('tensor codec — inconsistent messages are refused with E_TENSOR', () => {
  const data = new Uint8Array(12);
  expectTensorError(() => decodeTensor(Tensor.create({ dtype: DType.DTYPE_FLOAT32, shape: [2, 2], data })), /needs 16 bytes, has 12/);
  expectTensorError(() => decodeTensor(Tensor.create({ dtype: DType.DTYPE_FLOAT32, shape: [100000, 100000, 100000], data })), /more than/);
  expectTensorError(() => decodeTensor(Tensor.create({ dtype: DType.DTYPE_UNSPECIFIED, shape: [3], data })), /unknown dtype/);
  expectTensorError(() => decodeTensor(Tensor.create({ dtype: 99 as DType, shape: [3], data })), /unknown dtype/);
  expectTensorError(() => decodeTensor(Tensor.create({ dtype: DType.DTYPE_FLOAT32, shape: [3], data, encoding: 42 as Encoding })), /unknown encoding/);
  expectTensorError(() => decodeTensor(Tensor.create({ dtype: DType.DTYPE_INT32, shape: [12], data, encoding: Encoding.ENCODING_INT8 })), /applies to float32/);
  expectTensorError(() => decodeTensor(Tensor.create({ dtype: DType.DTYPE_FLOAT32, shape: [12], data, encoding: Encoding.ENCODING_INT8, scale: NaN })), /non-finite/);
  expectTensorError(() => decodeTensor(Tensor.create({ dtype: DType.DTYPE_FLOAT32, shape: [3], data }), { maxElements: 2 }), /more than 2/);
  expectTensorError(() => encodeTensor({ dtype: 'float32', shape: [2, 2], values: new Float32Array(3) }), /needs 4 elements/);
  expectTensorError(() => encodeTensor({ dtype: 'int32', shape: [2], values: new Int32Array(2) }, { encoding: 'float16' }), /applies to float32/);
  const nan = new Float32Array([1, NaN, 3]);
  const msg = Tensor.decode(Tensor.encode(encodeTensor({ dtype: 'float32', shape: [3], values: nan })));
  assert.equal(decodeTensor(msg).values.length, 3);
  expectTensorError(() => decodeTensor(msg, { requireFinite: true }), /NaN or Infinity/);
  expectTensorError(() => encodeTensor({ dtype: 'float32', shape: [3], values: nan }, { encoding: 'int8' }), /NaN or Infinity/);
});
