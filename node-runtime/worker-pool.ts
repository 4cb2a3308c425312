/**
 * The executors of a device. One worker runs in the device's own process; with more, each
 * is a child process (its own MQTT client, its own tfjs) supervised here: a worker that dies
 * is restarted under the same client id, so its persistent session picks up what was queued
 * for it, and the stages it was running are released for the others.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { ModelProfileInit, Tensor } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { WorkerInit, ChildMessage, ParentMessage } from './worker-ipc.ts';
import type { HeldModels } from './model-host.ts';
import { killOnProcessExit } from './child-guard.ts';
import type { DataSourceSpec } from './data-sources.ts';
import type { ClaimOutcome } from './ledger.ts';
import type { CommitOutcome, ResultCommit } from './services.ts';
import { brokerConnectionOf, type BrokerConnection } from '../transport/mqtt-transport.ts';
import type { DevicePower, DeviceRole } from '../power/types.ts';

export interface ExecutorHandle {
  workerId: string;
  alive: boolean;
  pid: number | undefined;
  /** Computing a stage right now (forked workers; the in-process one reports through its device). */
  busy: boolean;
  /** Stage inputs it holds (arriving or queued), as it last said. */
  inHand: number;
  /** Stages run (in-process executor only; forked ones report through their stage reports). */
  stagesRun(): number;
  /** Kills a forked worker (tests); in-process: a no-op. */
  kill(signal?: NodeJS.Signals): void;
}

interface InProcess {
  kind: 'local';
  handle: ExecutorHandle;
  stop(): Promise<void>;
  profile(sha256: string, fused: boolean, runs: number): Promise<ModelProfileInit>;
  held(): HeldModels;
}

interface Forked {
  kind: 'fork';
  handle: ExecutorHandle;
  child: ChildProcess | undefined;
  ready: boolean;
  restarts: number;
}

/** What the pool needs of its device. */
export interface PoolHost {
  readonly config: BrokerConnection & {
    id: string; role: DeviceRole; speed: number; workers: number;
    models: string[]; dataSources: ReadonlyMap<string, DataSourceSpec>; dataDir: string; cacheDir?: string; engine?: 'tfjs-node' | 'wasm' | 'cpu';
    debugJson?: boolean; compute?: 'real' | 'virtual';
  };
  readonly power: DevicePower;
  readonly incarnation: string;
  clockOffsetMs(): number;
  clockUncertaintyMs(): number;
  claim(key: string, workerId: string): Promise<ClaimOutcome>;
  complete(key: string): Promise<void>;
  commitResult(commit: ResultCommit): Promise<CommitOutcome>;
  release(key: string): Promise<void>;
  sendDelay(bytes: number): Promise<number>;
  receiveDelay(bytes: number): Promise<number>;
  heldInput(origin: string, jobId: string, taskId: string, waitMs: number): Promise<Tensor | undefined>;
  stageQueued(delta: number): void;
  stageBusy(busy: boolean): void;
  workerLost(workerId: string): void;
  publishStatus(): Promise<void>;
}

// From source (tsx) the worker is worker-main.ts; from the compiled package, worker-main.js.
const COMPILED = import.meta.url.endsWith('.js');
const WORKER_MAIN = fileURLToPath(new URL(COMPILED ? './worker-main.js' : './worker-main.ts', import.meta.url));
const WORKER_EXEC_ARGV = COMPILED ? [] : ['--import', 'tsx'];
/** A worker told to stop is killed if it has not exited by then (it bounds its own stop at 2.5 s). */
const WORKER_STOP_KILL_MS = 3000;


export class WorkerPool {
  private local: InProcess | undefined;
  private readonly forks: Forked[] = [];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextCall = 1;
  private stopping = false;
  engine = '';
  private heldModels: HeldModels | undefined;

  constructor(private readonly device: PoolHost, private readonly log: Logger) {}

  get handles(): ExecutorHandle[] {
    return this.local ? [this.local.handle] : this.forks.map((f) => f.handle);
  }

  liveWorkerIds(): string[] {
    return this.handles.filter((h) => h.alive).map((h) => h.workerId);
  }

  /** The models the executors hold (undefined until one is ready). */
  held(): HeldModels | undefined {
    return this.local ? this.local.held() : this.heldModels;
  }

  async start(): Promise<void> {
    const c = this.device.config;
    if (c.workers <= 1) {
      await this.startLocal();
      return;
    }
    const ready: Array<Promise<void>> = [];
    for (let i = 0; i < c.workers; i++) {
      const f: Forked = { kind: 'fork', child: undefined, ready: false, restarts: 0, handle: undefined as unknown as ExecutorHandle };
      f.handle = {
        workerId: `w${i}`, alive: false, pid: undefined, busy: false, inHand: 0, stagesRun: () => 0,
        kill: (signal: NodeJS.Signals = 'SIGKILL') => { f.child?.kill(signal); },
      };
      this.forks.push(f);
      ready.push(this.spawn(f));
    }
    await Promise.all(ready);
  }

  private async startLocal(): Promise<void> {
    const c = this.device.config;
    const [{ initEngine }, { ModelHost }, { Executor }, { hostProfile, scaledModelProfile }] = await Promise.all([
      import('../models/index.ts'), import('./model-host.ts'), import('./executor.ts'), import('./profiles.ts'),
    ]);
    const info = await initEngine({ ...(c.engine ? { engine: c.engine } : {}), log: this.log });
    this.engine = info.name;
    const host = new ModelHost({ models: c.models, log: this.log, ...(c.cacheDir ? { cacheDir: c.cacheDir } : {}) });
    await host.loadAll();
    // Stopped while starting: no executor (and no connection) to leave behind.
    if (this.stopping) return;
    const executor = new Executor({
      ...brokerConnectionOf(c), deviceId: c.id, incarnation: this.device.incarnation, workerId: 'w0', modelHost: host, services: this.device, speed: c.speed,
      power: this.device.power, dataSources: c.dataSources, log: this.log, debugJson: c.debugJson ?? false,
      compute: c.compute ?? 'real', dataDir: c.dataDir, role: c.role,
    });
    await executor.start();
    if (this.stopping) {
      await executor.stop();
      return;
    }
    this.local = {
      kind: 'local',
      handle: { workerId: 'w0', alive: true, pid: process.pid, busy: false, inHand: 0, stagesRun: () => executor.stagesRun, kill: () => undefined },
      stop: () => executor.stop(),
      held: () => host.heldModels(),
      profile: async (sha256, fused, runs) => scaledModelProfile(await hostProfile(host, sha256, { dataDir: c.dataDir, fused, runs, log: this.log }), c.speed),
    };
  }

  private spawn(f: Forked): Promise<void> {
    const c = this.device.config;
    const init: WorkerInit = {
      ...brokerConnectionOf(c), deviceId: c.id, incarnation: this.device.incarnation, workerId: f.handle.workerId, speed: c.speed, power: this.device.power,
      models: c.models, dataSources: [...c.dataSources.entries()], dataDir: c.dataDir, clockOffsetMs: this.device.clockOffsetMs(), clockUncertaintyMs: this.device.clockUncertaintyMs(),
      logLevel: this.log.level, debugJson: c.debugJson ?? false, compute: c.compute ?? 'real', role: c.role,
      ...(c.cacheDir !== undefined ? { cacheDir: c.cacheDir } : {}),
      ...(c.engine !== undefined ? { engine: c.engine } : {}),
    };
    const child = fork(WORKER_MAIN, [], { execArgv: WORKER_EXEC_ARGV, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    killOnProcessExit(child);
    f.child = child;
    f.handle.pid = child.pid;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      child.on('message', (raw) => {
        const msg = raw as ChildMessage;
        switch (msg.type) {
          case 'ready':
            f.ready = true;
            f.handle.alive = true;
            this.engine = msg.engine;
            this.heldModels = msg.held;
            if (!settled) { settled = true; resolve(); }
            void this.device.publishStatus();
            break;
          case 'call':
            void this.answer(child, msg);
            break;
          case 'busy':
            f.handle.busy = msg.busy;
            this.device.stageBusy(msg.busy);
            break;
          case 'queued':
            f.handle.inHand += msg.delta;
            this.device.stageQueued(msg.delta);
            break;
          case 'result': {
            const p = this.pending.get(msg.id);
            if (!p) break;
            this.pending.delete(msg.id);
            if (msg.error !== undefined) p.reject(new EdgeweaveError(msg.error.code, msg.error.message));
            else p.resolve(msg.value);
            break;
          }
          case 'fatal':
            this.log.error({ workerId: f.handle.workerId, message: msg.message }, 'worker failed to start');
            if (!settled) { settled = true; reject(new EdgeweaveError('E_CONFIG', `worker ${f.handle.workerId}: ${msg.message}`)); }
            break;
        }
      });
      child.on('exit', (code, signal) => {
        f.handle.alive = false;
        f.ready = false;
        // What the dead worker held no longer loads the device (the broker delivers it again).
        if (f.handle.busy) this.device.stageBusy(false);
        if (f.handle.inHand !== 0) this.device.stageQueued(-f.handle.inHand);
        f.handle.busy = false;
        f.handle.inHand = 0;
        this.device.workerLost(f.handle.workerId);
        if (this.stopping) return;
        this.log.warn({ workerId: f.handle.workerId, code, signal }, 'worker exited; restarting');
        if (!settled) { settled = true; reject(new EdgeweaveError('E_CONFIG', `worker ${f.handle.workerId} exited during start (code ${code})`)); return; }
        f.restarts++;
        const backoff = Math.min(5000, 200 * 2 ** Math.min(f.restarts, 5));
        setTimeout(() => { if (!this.stopping) this.spawn(f).catch((err: unknown) => this.log.error({ err }, 'worker restart failed')); }, backoff).unref();
      });
      const send: ParentMessage = { type: 'init', init };
      child.send(send);
    });
  }

  private async answer(child: ChildProcess, msg: Extract<ChildMessage, { type: 'call' }>): Promise<void> {
    const d = this.device;
    let value: unknown;
    switch (msg.op) {
      case 'claim': value = await d.claim(msg.args[0] as string, msg.args[1] as string); break;
      case 'complete': value = await d.complete(msg.args[0] as string); break;
      case 'commitResult': value = await d.commitResult(msg.args[0] as ResultCommit); break;
      case 'release': value = await d.release(msg.args[0] as string); break;
      case 'sendDelay': value = await d.sendDelay(msg.args[0] as number); break;
      case 'receiveDelay': value = await d.receiveDelay(msg.args[0] as number); break;
      case 'heldInput': {
        // A copy of the data alone: the view may sit in a larger buffer, which IPC would copy whole.
        const t = await d.heldInput(msg.args[0] as string, msg.args[1] as string, msg.args[2] as string, msg.args[3] as number);
        value = t ? { ...t, data: new Uint8Array(t.data) } : undefined;
        break;
      }
    }
    const reply: ParentMessage = { type: 'reply', id: msg.id, value };
    if (child.connected) child.send(reply);
  }

  broadcastClock(offsetMs: number, uncertaintyMs: number): void {
    const msg: ParentMessage = { type: 'clock', offsetMs, uncertaintyMs };
    for (const f of this.forks) if (f.child?.connected) f.child.send(msg);
  }

  async profile(sha256: string, fused: boolean, runs: number): Promise<ModelProfileInit | undefined> {
    if (this.local) return this.local.profile(sha256, fused, runs);
    const f = this.forks.find((x) => x.ready && x.child?.connected);
    if (!f?.child) return undefined;
    const id = this.nextCall++;
    const msg: ParentMessage = { type: 'profile', id, sha256, fused, runs };
    const result = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    f.child.send(msg);
    return (await result) as ModelProfileInit;
  }

  /**
   * Stops the executors, within about 3 s: the in-process one bounds its own stop; a worker
   * process is told to stop and killed if it has not exited after WORKER_STOP_KILL_MS.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.local) await this.local.stop();
    await Promise.all(this.forks.map((f) => new Promise<void>((resolve) => {
      const child = f.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), WORKER_STOP_KILL_MS);
      child.once('exit', () => { clearTimeout(timer); resolve(); });
      if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
      else child.kill('SIGTERM');
    })));
  }
}
