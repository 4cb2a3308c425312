/**
 * Entry point of a worker process: one executor, its device's services reached over IPC.
 * Started by WorkerPool with `node --import tsx`; not a command of its own.
 */
import { pino, type LevelWithSilent } from 'pino';
import { initEngine } from '../models/index.ts';
import { ModelHost } from './model-host.ts';
import { brokerConnectionOf } from '../transport/mqtt-transport.ts';
import { Executor } from './executor.ts';
import { hostProfile, scaledModelProfile } from './profiles.ts';
import type { CommitOutcome, DeviceServices, ResultCommit } from './services.ts';
import type { ChildMessage, ParentMessage, WorkerInit, CallOp } from './worker-ipc.ts';
import { toEdgeweaveError } from '../schemas/errors.ts';
import type { ClaimOutcome } from './ledger.ts';
import type { Tensor } from '../schemas/generated/edgeweave.ts';

function send(msg: ChildMessage): void {
  if (process.connected) process.send?.(msg);
}

class IpcServices implements DeviceServices {
  private nextId = 1;
  private readonly pending = new Map<number, (value: unknown) => void>();
  offset: number;
  uncertainty: number;

  constructor(offset: number, uncertainty: number) {
    this.offset = offset;
    this.uncertainty = uncertainty;
  }

  private call<T>(op: CallOp, ...args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve) => {
      this.pending.set(id, resolve as (v: unknown) => void);
      send({ type: 'call', id, op, args });
    });
  }

  reply(id: number, value: unknown): void {
    const r = this.pending.get(id);
    this.pending.delete(id);
    r?.(value);
  }

  claim(key: string, workerId: string): Promise<ClaimOutcome> { return this.call('claim', key, workerId); }
  complete(key: string): Promise<void> { return this.call('complete', key); }
  commitResult(commit: ResultCommit): Promise<CommitOutcome> { return this.call('commitResult', commit); }
  release(key: string): Promise<void> { return this.call('release', key); }
  sendDelay(bytes: number): Promise<number> { return this.call('sendDelay', bytes); }
  receiveDelay(bytes: number): Promise<number> { return this.call('receiveDelay', bytes); }
  heldInput(origin: string, jobId: string, taskId: string, waitMs: number): Promise<Tensor | undefined> { return this.call('heldInput', origin, jobId, taskId, waitMs); }
  clockOffsetMs(): number { return this.offset; }
  clockUncertaintyMs(): number { return this.uncertainty; }
  stageQueued(delta: number): void { send({ type: 'queued', delta }); }
  stageBusy(busy: boolean): void { send({ type: 'busy', busy }); }
}

/** A worker exits this long after it was told to stop even if its executor's stop hangs (the executor bounds it at about 2 s). */
const STOP_LIMIT_MS = 2500;

let services: IpcServices | undefined;
let executor: Executor | undefined;
let host: ModelHost | undefined;
let init: WorkerInit | undefined;

async function start(config: WorkerInit): Promise<void> {
  init = config;
  const log = pino({ level: config.logLevel as LevelWithSilent, base: { name: 'edgeweave', deviceId: config.deviceId, workerId: config.workerId } }, pino.destination({ dest: 2, sync: false }));
  const info = await initEngine({ ...(config.engine ? { engine: config.engine } : {}), log });
  host = new ModelHost({ models: config.models, log, ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}) });
  await host.loadAll();
  services = new IpcServices(config.clockOffsetMs, config.clockUncertaintyMs);
  executor = new Executor({
    ...brokerConnectionOf(config), deviceId: config.deviceId, incarnation: config.incarnation, workerId: config.workerId, modelHost: host, services,
    speed: config.speed, power: config.power, dataSources: new Map(config.dataSources), log, debugJson: config.debugJson,
    compute: config.compute, dataDir: config.dataDir, role: config.role,
  });
  await executor.start();
  send({ type: 'ready', engine: info.name, held: host.heldModels() });
}

process.on('message', (raw) => {
  const msg = raw as ParentMessage;
  switch (msg.type) {
    case 'init':
      start(msg.init).catch((err: unknown) => {
        send({ type: 'fatal', message: toEdgeweaveError(err, 'E_CONFIG').message });
        process.exit(1);
      });
      break;
    case 'reply':
      services?.reply(msg.id, msg.value);
      break;
    case 'clock':
      if (services) {
        services.offset = msg.offsetMs;
        services.uncertainty = msg.uncertaintyMs;
      }
      break;
    case 'profile': {
      const h = host;
      const cfg = init;
      if (!h || !cfg) break;
      hostProfile(h, msg.sha256, { dataDir: cfg.dataDir, fused: msg.fused, runs: msg.runs })
        .then((r) => send({ type: 'result', id: msg.id, value: scaledModelProfile(r, cfg.speed) }))
        .catch((err: unknown) => {
          const e = toEdgeweaveError(err, 'E_MODEL_LOAD');
          send({ type: 'result', id: msg.id, error: { code: e.code, message: e.message } });
        });
      break;
    }
    case 'stop':
      stopAndExit();
      break;
  }
});

let stopping = false;
/** Stops the executor and exits, within STOP_LIMIT_MS whatever the executor does. */
function stopAndExit(): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), STOP_LIMIT_MS);
  void (executor?.stop() ?? Promise.resolve()).catch(() => undefined).finally(() => process.exit(0));
}

// The device process is gone: nothing supervises this worker any more.
process.on('disconnect', stopAndExit);
// A signal to the worker itself (or to the whole process group, as Ctrl-C in a terminal sends):
// a clean stop too. The device, which got it as well, stops and waits for its workers.
process.on('SIGTERM', stopAndExit);
process.on('SIGINT', stopAndExit);
