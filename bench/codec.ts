/**
 * Tensor codec throughput: encode (tensor -> Tensor message -> protobuf bytes) plus decode
 * (bytes -> message -> typed array), for 4 MiB and 64 KiB float32 tensors, beside a plain
 * Buffer.copy of the same number of bytes in the same run: into one reused buffer (cache-warm) and
 * into fresh memory each time (what a receive or an encode must do). GB/s = tensor bytes / time.
 */
import { Tensor } from '../schemas/generated/edgeweave.ts';
import { decodeTensor, encodeTensor, type TensorData, type TensorEncodingName } from '../schemas/tensor-codec.ts';
import type { BenchOptions } from './options.ts';

function timeLoop(budgetMs: number, fn: () => void): number {
  for (let i = 0; i < 5; i++) fn(); // warm-up
  let iterations = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < budgetMs * 1e6) {
    for (let i = 0; i < 10; i++) fn();
    iterations += 10;
    elapsed = Number(process.hrtime.bigint() - start);
  }
  return elapsed / 1e6 / iterations; // ms per iteration
}

function tensorOf(bytes: number): TensorData {
  const values = new Float32Array(bytes / 4);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i) * 3;
  return { dtype: 'float32', shape: [values.length], values };
}

export async function runBench(options: BenchOptions): Promise<void> {
  const budgetMs = options.quick ? 150 : 1500;
  const rows: string[][] = [];
  let sink = 0;
  for (const size of [4 * 1024 * 1024, 64 * 1024]) {
    const tensor = tensorOf(size);
    const src = Buffer.from(tensor.values.buffer);
    const dst = Buffer.alloc(size);
    const copyMs = timeLoop(budgetMs, () => { sink += src.copy(dst); });
    // A copy into fresh memory each time, as a receive or an encode does.
    const freshCopyMs = timeLoop(budgetMs, () => { sink += src.copy(Buffer.allocUnsafeSlow(size)); });
    const encodings: TensorEncodingName[] = ['raw', 'float16', 'int8'];
    for (const encoding of encodings) {
      const encodeMs = timeLoop(budgetMs, () => { sink += Tensor.encode(encodeTensor(tensor, { encoding, name: 't' })).byteLength; });
      const bytes = Tensor.encode(encodeTensor(tensor, { encoding, name: 't' }));
      // The receive buffer as the network hands it over, placed so the data field is 4-byte aligned
      // (decoded as a view) and, for raw, also misaligned (decoded with one copy).
      const receivedAt = (offset: number): Buffer => {
        const received = Buffer.alloc(bytes.byteLength + 8).subarray(offset, offset + bytes.byteLength);
        received.set(bytes);
        return received;
      };
      const isAligned = (b: Buffer): boolean => Tensor.decode(b).data.byteOffset % 4 === 0;
      const candidates = [0, 1, 2, 3].map(receivedAt);
      const cases = [candidates.find(isAligned)!, ...(encoding === 'raw' ? [candidates.find((b) => !isAligned(b))!] : [])];
      for (const received of cases) {
        const aligned = isAligned(received);
        const decodeMs = timeLoop(budgetMs, () => { sink += decodeTensor(Tensor.decode(received)).values.length; });
        const label = encoding === 'raw' ? `float32 raw, ${aligned ? 'aligned' : 'unaligned'}` : `float32 as ${encoding}`;
        const totalMs = encodeMs + decodeMs;
        rows.push([
          `${size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : `${size / 1024} KiB`}`, label,
          (encodeMs * 1000).toFixed(1), (decodeMs * 1000).toFixed(1), (size / (totalMs / 1000) / 1e9).toFixed(2),
          (size / (copyMs / 1000) / 1e9).toFixed(2), (size / (freshCopyMs / 1000) / 1e9).toFixed(2),
          (totalMs / copyMs).toFixed(1), (totalMs / freshCopyMs).toFixed(1),
        ]);
      }
    }
  }
  const header = ['size', 'case', 'encode µs', 'decode µs', 'enc+dec GB/s', 'copy GB/s', 'fresh copy GB/s', 'vs copy', 'vs fresh copy'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padStart(widths[i]!)).join('  ');
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
  if (sink === -1) process.stdout.write('\n');
}
