/**
 * Virtual compute (`edgeweave node --compute virtual`): a stage takes the time this host's
 * profile of its tasks says (divided by the device's emulated speed) without running the model,
 * and hands on deterministic tensors of the shapes and dtype the stage really produces. Many
 * emulated devices then fit on one host and still go through the same broker, planner and
 * executors. The profile is the cached one every device of this host shares (profiles.ts).
 */
import type { Logger } from 'pino';
import type { TensorData } from '../schemas/tensor-codec.ts';
import type { Stage } from '../models/stage.ts';
import type { ModelHost } from './model-host.ts';
import { hostProfile } from './profiles.ts';
import { seededUniform } from './data-sources.ts';

export type ComputeMode = 'real' | 'virtual';

/** Deterministic outputs kept per name and size: the same for every job, made once. */
const MAX_CACHED_OUTPUTS = 256;

function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

export class VirtualCompute {
  private readonly profiles = new Map<string, Promise<ReadonlyMap<string, number>>>();
  private readonly outputs = new Map<string, Float32Array>();

  constructor(private readonly host: ModelHost, private readonly dataDir: string, private readonly log: Logger) {}

  /**
   * How long `taskIds` of model `sha256` take on this host (ms, from its profile of the fused or
   * layer DAG); undefined when the profile lacks one of them (a DAG of the job's own making).
   */
  async hostMs(sha256: string, fused: boolean, taskIds: readonly string[]): Promise<number | undefined> {
    const key = `${sha256}/${fused ? 'fused' : 'layers'}`;
    let profile = this.profiles.get(key);
    if (!profile) {
      profile = hostProfile(this.host, sha256, { dataDir: this.dataDir, fused, runs: 3, log: this.log })
        .then((p) => new Map(p.tasks.map((t) => [t.taskId, t.latencyMs])));
      this.profiles.set(key, profile);
      profile.catch(() => this.profiles.delete(key));
    }
    const ms = await profile;
    let sum = 0;
    for (const t of taskIds) {
      const one = ms.get(t);
      if (one === undefined) return undefined;
      sum += one;
    }
    return sum;
  }

  /** The stage's outputs as deterministic float32 tensors of their real shapes, batch as the inputs'. */
  outputsOf(stage: Stage, inputs: ReadonlyMap<string, TensorData>): Map<string, TensorData> {
    const batch = inputs.values().next().value?.shape[0] ?? 1;
    const out = new Map<string, TensorData>();
    for (const name of stage.outputNames) {
      const shape = [batch, ...(stage.shapes[name] ?? [])];
      const count = shape.reduce((a, b) => a * b, 1);
      const key = `${stage.modelId}/${name}/${count}`;
      let values = this.outputs.get(key);
      if (!values) {
        values = seededUniform(count, seedOf(key));
        if (this.outputs.size >= MAX_CACHED_OUTPUTS) this.outputs.delete(this.outputs.keys().next().value as string);
        this.outputs.set(key, values);
      }
      out.set(name, { dtype: 'float32', shape, values });
    }
    return out;
  }
}
