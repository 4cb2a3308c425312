/**
 * Data a device holds and supplies as job inputs (a camera frame, a second sensor's tensor):
 * `--data <key>=<source>` where source is an image file (.png, .jpg), a tensor file (.json:
 * {"shape": [...], "data": [...]}), or `random[:seed]` (seeded uniform [0, 1)).
 */
import { readFileSync } from 'node:fs';
import { decodeImage, imageTensor } from '../models/index.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { TensorData } from '../schemas/tensor-codec.ts';

export type DataSourceSpec = { kind: 'random'; seed: number } | { kind: 'image'; path: string } | { kind: 'json'; path: string };
export type DataSources = ReadonlyMap<string, DataSourceSpec>;

const KEY = /^[A-Za-z0-9._-]{1,64}$/;

/** Parses `key=source` items (the `--data` option, repeatable). */
export function parseDataSources(items: readonly string[]): Map<string, DataSourceSpec> {
  const out = new Map<string, DataSourceSpec>();
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = item.slice(0, eq);
    const source = item.slice(eq + 1);
    if (eq <= 0 || !KEY.test(key) || source === '') {
      throw new EdgeweaveError('E_USAGE', `--data "${item}": expected <key>=<image.png|tensor.json|random[:seed]>`);
    }
    if (source === 'random' || source.startsWith('random:')) {
      const seed = source === 'random' ? 0 : Number(source.slice('random:'.length));
      if (!Number.isInteger(seed)) throw new EdgeweaveError('E_USAGE', `--data "${item}": the seed must be a whole number`);
      out.set(key, { kind: 'random', seed });
    } else if (/\.(png|jpe?g)$/i.test(source)) out.set(key, { kind: 'image', path: source });
    else if (/\.json$/i.test(source)) out.set(key, { kind: 'json', path: source });
    else throw new EdgeweaveError('E_USAGE', `--data "${item}": the source must be a .png/.jpg image, a .json tensor or random[:seed]`);
  }
  return out;
}

/** Seeded uniform values in [0, 1): the same seed gives the same data on every device and run. */
export function seededUniform(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/** Loads data source `key` as the input `taskId` of per-sample shape `shape` (batch 1 added). */
export function loadLocalInput(sources: DataSources | undefined, key: string, taskId: string, shape: readonly number[]): TensorData {
  const spec = sources?.get(key);
  if (!spec) throw new EdgeweaveError('E_INPUT', `this device holds no data source "${key}" (for input ${taskId}); start it with --data ${key}=<source>`);
  const full = [1, ...shape];
  const count = shape.reduce((a, b) => a * b, 1);
  switch (spec.kind) {
    case 'random':
      return { dtype: 'float32', shape: full, values: seededUniform(count, spec.seed) };
    case 'image': {
      let bytes: Buffer;
      try {
        bytes = readFileSync(spec.path);
      } catch (err) {
        throw new EdgeweaveError('E_INPUT', `cannot read data source ${key} (${spec.path}): ${(err as Error).message}`, { cause: err });
      }
      const t = imageTensor(decodeImage(bytes, spec.path), { name: taskId, shape: [...shape] });
      try {
        return { dtype: 'float32', shape: t.shape, values: t.dataSync() as Float32Array };
      } finally {
        t.dispose();
      }
    }
    case 'json': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(spec.path, 'utf8'));
      } catch (err) {
        throw new EdgeweaveError('E_INPUT', `cannot read data source ${key} (${spec.path}): ${(err as Error).message}`, { cause: err });
      }
      const p = parsed as { shape?: unknown; data?: unknown };
      if (!Array.isArray(p.data) || !p.data.every((x) => typeof x === 'number') || p.data.length !== count) {
        throw new EdgeweaveError('E_INPUT', `data source ${key} (${spec.path}) must hold "data": ${count} numbers for shape [${shape.join(', ')}]`);
      }
      return { dtype: 'float32', shape: full, values: Float32Array.from(p.data as number[]) };
    }
  }
}

