/**
 * tf.io handlers that read and write a LayersModel as local files (model.json plus weight
 * shards), since `file://` URLs need tfjs-node. The format is the one tfjs and the
 * tensorflowjs converter use, so models move freely between them and edgeweave.
 */
import { mkdir, readFile, stat, writeFile, open } from 'node:fs/promises';
import * as path from 'node:path';
import type { io, LayersModel } from '@tensorflow/tfjs';
import { EdgeweaveError } from '../../schemas/errors.ts';
import { weightBuffers } from './hash.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/** The model.json a path names: the file itself, or `model.json` inside a folder. Undefined when neither exists. */
export async function findModelJson(ref: string): Promise<string | undefined> {
  const abs = path.resolve(ref);
  const s = await stat(abs).catch(() => undefined);
  if (!s) return undefined;
  if (s.isFile()) return abs;
  if (s.isDirectory()) {
    const inside = path.join(abs, MODEL_JSON);
    const t = await stat(inside).catch(() => undefined);
    return t?.isFile() === true ? inside : undefined;
  }
  return undefined;
}

export interface ModelJson {
  modelTopology: unknown;
  weightsManifest: io.WeightsManifestConfig;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  userDefinedMetadata?: Record<string, unknown>;
  trainingConfig?: io.TrainingConfig;
}

function loadError(file: string, what: string, cause?: unknown): EdgeweaveError {
  return new EdgeweaveError('E_MODEL_LOAD', `${file}: ${what}`, { cause });
}

/** Reads and checks model.json (topology and manifest only; no weights). */
export async function readModelJson(file: string): Promise<ModelJson> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw loadError(file, `cannot read (${(err as Error).message})`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw loadError(file, `is not valid JSON (${(err as Error).message})`, err);
  }
  const m = json as Partial<ModelJson> | null;
  if (m === null || typeof m !== 'object' || typeof m.modelTopology !== 'object' || m.modelTopology === null) {
    throw loadError(file, 'has no modelTopology: not a tfjs LayersModel (a graph model from tf.saved_model cannot be split by layer)');
  }
  if (m.format !== undefined && m.format !== 'layers-model') throw loadError(file, `has format "${m.format}", expected layers-model`);
  if (!Array.isArray(m.weightsManifest)) throw loadError(file, 'has no weightsManifest');
  return m as ModelJson;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

function expectedBytes(spec: io.WeightsManifestEntry): number {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  return n * (DTYPE_BYTES[dtype] ?? 4);
}

/** Reads model.json and its weight shards into tfjs ModelArtifacts. */
export async function readModelArtifacts(file: string): Promise<{ json: ModelJson; artifacts: io.ModelArtifacts }> {
  const json = await readModelJson(file);
  const dir = path.dirname(file);
  const specs: io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const shard = path.resolve(dir, p);
      let buf: Buffer;
      try {
        buf = await readFile(shard);
      } catch (err) {
        throw loadError(file, `cannot read weight shard ${p} (${(err as Error).message})`, err);
      }
      const own = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength;
      buffers.push(own ? (buf.buffer as ArrayBuffer) : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
    }
  }
  const want = specs.reduce((s, w) => s + expectedBytes(w), 0);
  const got = buffers.reduce((s, b) => s + b.byteLength, 0);
  if (want !== got) throw loadError(file, `weight shards hold ${got} bytes but the manifest describes ${want}`);
  const artifacts: io.ModelArtifacts = {
    modelTopology: json.modelTopology as object,
    weightSpecs: specs,
    weightData: buffers.length === 1 ? buffers[0]! : buffers,
    format: json.format ?? 'layers-model',
  };
  if (json.generatedBy !== undefined) artifacts.generatedBy = json.generatedBy;
  if (json.convertedBy !== undefined && json.convertedBy !== null) artifacts.convertedBy = json.convertedBy;
  if (json.userDefinedMetadata !== undefined) artifacts.userDefinedMetadata = json.userDefinedMetadata as NonNullable<io.ModelArtifacts['userDefinedMetadata']>;
  if (json.trainingConfig !== undefined) artifacts.trainingConfig = json.trainingConfig;
  return { json, artifacts };
}

/** An IOHandler that hands tfjs already-read artifacts. */
export function memoryLoadHandler(artifacts: io.ModelArtifacts): io.IOHandler {
  return { load: async () => artifacts };
}

/** Writes artifacts as `dir/model.json` + `dir/weights.bin`. */
export async function writeModelArtifacts(dir: string, artifacts: io.ModelArtifacts): Promise<void> {
  if (artifacts.modelTopology instanceof ArrayBuffer) throw new EdgeweaveError('E_MODEL_LOAD', 'cannot save a model with a binary topology');
  await mkdir(dir, { recursive: true });
  const json: ModelJson = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? 'edgeweave',
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.userDefinedMetadata !== undefined) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  const handle = await open(path.join(dir, WEIGHTS_FILE), 'w');
  try {
    for (const buf of weightBuffers(artifacts.weightData)) await handle.write(new Uint8Array(buf));
  } finally {
    await handle.close();
  }
  await writeFile(path.join(dir, MODEL_JSON), JSON.stringify(json));
}

/** An IOHandler for `model.save(...)` that captures the artifacts and passes them to `sink`. */
export function captureSaveHandler(sink: (artifacts: io.ModelArtifacts) => Promise<void> | void): io.IOHandler {
  return {
    save: async (artifacts) => {
      await sink(artifacts);
      const bytes = weightBuffers(artifacts.weightData).reduce((s, b) => s + b.byteLength, 0);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes } };
    },
  };
}

/** Saves any LayersModel as `dir/model.json` + `dir/weights.bin`; returns the model.json path. */
export async function saveModelFiles(model: LayersModel, dir: string): Promise<string> {
  await model.save(captureSaveHandler((artifacts) => writeModelArtifacts(dir, artifacts)));
  return path.join(path.resolve(dir), MODEL_JSON);
}
