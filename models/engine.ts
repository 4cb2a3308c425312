/**
 * Engine choice: the fastest tfjs backend that loads. tfjs-node (native TensorFlow, an
 * optional dependency that often fails to install), else wasm (XNNPACK, SIMD; threads are
 * off in Node), else the pure-JS cpu backend. `EDGEWEAVE_ENGINE` or the `engine` option
 * forces one; a forced engine that does not load is an error, never a silent fallback.
 */
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { EdgeweaveError } from '../schemas/errors.ts';

export const ENGINES = ['tfjs-node', 'wasm', 'cpu'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface EngineInfo {
  name: EngineName;
  /** The tfjs backend name ('tensorflow', 'wasm', 'cpu'). */
  backend: string;
  /** tfjs version, and the engine package's version where it has its own. */
  version: string;
  /** Chosen by `engine` option or EDGEWEAVE_ENGINE rather than by preference. */
  forced: boolean;
  simd: boolean;
  threads: boolean;
  /** Why each faster engine was not taken (empty when the fastest was). */
  notTaken: Array<{ engine: EngineName; reason: string }>;
  /** Notes on this engine's configuration (why threads are off, ...). */
  notes: string[];
}

export interface HostInfo {
  cores: number;
  cpuModel: string;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  platform: string;
  arch: string;
  node: string;
}

export interface InitEngineOptions {
  engine?: EngineName | undefined;
  log?: Logger | undefined;
}

const require = createRequire(import.meta.url);
const BACKEND: Record<EngineName, string> = { 'tfjs-node': 'tensorflow', wasm: 'wasm', cpu: 'cpu' };
// A variable, so TypeScript does not look for the optional package's types.
const TFJS_NODE = '@tensorflow/tfjs-node';

let current: EngineInfo | undefined;
let pending: Promise<EngineInfo> | undefined;

function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

export function isEngineName(value: string): value is EngineName {
  return (ENGINES as readonly string[]).includes(value);
}

/** The engine forced by EDGEWEAVE_ENGINE, if any; throws E_CONFIG on an unknown name. */
export function engineFromEnv(env: NodeJS.ProcessEnv = process.env): EngineName | undefined {
  const value = env['EDGEWEAVE_ENGINE'];
  if (value === undefined || value === '') return undefined;
  if (!isEngineName(value)) throw new EdgeweaveError('E_CONFIG', `EDGEWEAVE_ENGINE must be one of ${ENGINES.join(', ')}, got "${value}"`);
  return value;
}

/** Loads and activates one engine; resolves to its version and flags, or throws why it cannot. */
async function activate(engine: EngineName): Promise<Pick<EngineInfo, 'version' | 'simd' | 'threads' | 'notes'>> {
  if (engine === 'tfjs-node') {
    const mod = (await import(TFJS_NODE)) as { version?: Record<string, string> };
    if (!(await tf.setBackend(BACKEND[engine]))) throw new Error('the tensorflow backend did not initialise');
    return { version: mod.version?.['tfjs-node'] ?? tf.version_core, simd: true, threads: true, notes: [] };
  }
  if (engine === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Resolved from the installed package, so it works from any working directory.
    wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
    if (!(await tf.setBackend(BACKEND[engine]))) throw new Error('the wasm backend did not initialise');
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    const threads = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true;
    const notes = threads ? [] : ['threads off: tfjs-backend-wasm disables them in Node (tensorflow/tfjs#3830); one core per process'];
    return { version: wasm.version_wasm, simd, threads, notes };
  }
  if (!(await tf.setBackend(BACKEND[engine]))) throw new Error('the cpu backend did not initialise');
  return { version: tf.version_core, simd: false, threads: false, notes: ['pure JavaScript kernels: 20-40x slower than wasm'] };
}

async function choose(requested: EngineName | undefined, log: Logger | undefined): Promise<EngineInfo> {
  // tfjs's own console banners ("install tfjs-node ...") are replaced by `edgeweave info`.
  tf.enableProdMode();
  const candidates = requested ? [requested] : [...ENGINES];
  const notTaken: EngineInfo['notTaken'] = [];
  for (const engine of candidates) {
    try {
      const got = await activate(engine);
      const info: EngineInfo = { name: engine, backend: BACKEND[engine], forced: requested !== undefined, notTaken, ...got };
      log?.info({ engine, simd: info.simd, threads: info.threads, notTaken }, 'engine ready');
      return info;
    } catch (err) {
      if (requested) throw new EdgeweaveError('E_ENGINE', `engine ${engine} could not be loaded: ${reason(err)}`, { cause: err });
      notTaken.push({ engine, reason: reason(err) });
      log?.debug({ engine, err }, 'engine not taken');
    }
  }
  throw new EdgeweaveError('E_ENGINE', `no engine could be loaded: ${notTaken.map((n) => `${n.engine}: ${n.reason}`).join('; ')}`);
}

/**
 * Picks and activates the engine. Idempotent: a call without an explicit engine (or with
 * the one in use) returns the current one; an explicit different engine switches to it.
 */
export async function initEngine(options: InitEngineOptions = {}): Promise<EngineInfo> {
  if (pending) await pending.catch(() => undefined);
  const requested = options.engine ?? engineFromEnv();
  if (current && (requested === undefined || requested === current.name)) return current;
  pending = choose(requested, options.log);
  try {
    current = await pending;
    return current;
  } finally {
    pending = undefined;
  }
}

/** The engine in use, or undefined before initEngine. */
export function engineInfo(): EngineInfo | undefined {
  return current;
}

/** Which engines load on this machine (activating each in turn, then restoring the current one). */
export async function availableEngines(log?: Logger): Promise<EngineName[]> {
  const before = current?.name;
  const ok: EngineName[] = [];
  for (const engine of ENGINES) {
    try {
      await initEngine({ engine, log });
      ok.push(engine);
    } catch {
      // not available here
    }
  }
  if (before) await initEngine({ engine: before, log });
  return ok;
}

export function hostInfo(): HostInfo {
  const cpus = os.cpus();
  return {
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
    freeMemoryBytes: os.freemem(),
    platform: os.platform(),
    arch: os.arch(),
    node: process.version,
  };
}
