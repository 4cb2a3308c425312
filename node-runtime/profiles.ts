/**
 * Per-task latency of the models a device holds, measured on this host once and cached on
 * disk (so every emulated device on one machine, and every restart, reuses it), then scaled
 * by the device's emulated speed into the DeviceProfile the planner reads.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { engineInfo, profileModel, type ModelProfileResult } from '../models/index.ts';
import type { DeviceProfileInit, ModelProfileInit } from '../schemas/generated/edgeweave.ts';
import type { ModelHost } from './model-host.ts';

export interface HostProfileOptions {
  dataDir: string;
  fused: boolean;
  runs: number;
  log?: Logger;
}

function cacheFile(dataDir: string, engine: string, modelId: string, hash: string, fused: boolean): string {
  return join(dataDir, 'profiles', `host-${engine}-${modelId}-${hash.slice(0, 12)}-${fused ? 'fused' : 'layers'}.json`);
}

/** This host's profile of a model (from the cache when there is one). */
export async function hostProfile(host: ModelHost, sha256: string, options: HostProfileOptions): Promise<ModelProfileResult> {
  const model = await host.model({ name: '', sha256 });
  const engine = engineInfo()?.name ?? 'unknown';
  const file = cacheFile(options.dataDir, engine, model.modelId, model.modelHash, options.fused);
  try {
    const cached = JSON.parse(await readFile(file, 'utf8')) as ModelProfileResult;
    if (cached.modelHash === model.modelHash && Array.isArray(cached.tasks)) return cached;
  } catch {
    // not cached yet
  }
  options.log?.info({ model: model.modelId, fused: options.fused }, 'profiling model on this host');
  const result = await profileModel(model, { fused: options.fused, runs: options.runs, warmup: 1 });
  await mkdir(join(options.dataDir, 'profiles'), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(result));
  await rename(tmp, file);
  return result;
}

/** A host profile as this device runs it: every latency divided by the emulated speed. */
export function scaledModelProfile(result: ModelProfileResult, speed: number): ModelProfileInit {
  return {
    model: { name: result.modelId, sha256: result.modelHash },
    tasks: result.tasks.map((t) => ({ taskId: t.taskId, latencyMs: t.latencyMs / speed, outputBytes: t.outputBytes })),
    wholePredictMs: result.wholePredictMs / speed,
    sumTasksMs: result.sumTasksMs / speed,
    runs: result.runs,
    fused: result.fused,
  };
}

export function deviceProfileOf(deviceId: string, engine: string, cores: number, hostMemoryBytes: number, speed: number, models: ModelProfileInit[]): DeviceProfileInit {
  return { deviceId, engine, cores, hostMemoryBytes, speed, models, measuredAtMs: Date.now() };
}
