/** Messages between a device process and its worker processes (Node IPC, advanced serialization). */
import type { BrokerConnection } from '../transport/mqtt-transport.ts';
import type { DevicePower, DeviceRole } from '../power/types.ts';
import type { DataSourceSpec } from './data-sources.ts';
import type { ErrorCode } from '../schemas/errors.ts';
import type { HeldModels } from './model-host.ts';

export interface WorkerInit extends BrokerConnection {
  deviceId: string;
  incarnation: string;
  workerId: string;
  role: DeviceRole;
  speed: number;
  power: DevicePower;
  models: string[];
  dataSources: Array<[string, DataSourceSpec]>;
  dataDir: string;
  cacheDir?: string;
  compute: 'real' | 'virtual';
  engine?: 'tfjs-node' | 'wasm' | 'cpu';
  clockOffsetMs: number;
  clockUncertaintyMs: number;
  logLevel: string;
  debugJson: boolean;
}

export type CallOp = 'claim' | 'complete' | 'commitResult' | 'release' | 'sendDelay' | 'receiveDelay' | 'heldInput';

export type ParentMessage =
  | { type: 'init'; init: WorkerInit }
  | { type: 'reply'; id: number; value: unknown }
  | { type: 'clock'; offsetMs: number; uncertaintyMs: number }
  | { type: 'profile'; id: number; sha256: string; fused: boolean; runs: number }
  | { type: 'stop' };

export type ChildMessage =
  | { type: 'ready'; engine: string; held: HeldModels }
  | { type: 'call'; id: number; op: CallOp; args: unknown[] }
  | { type: 'busy'; busy: boolean }
  | { type: 'queued'; delta: number }
  | { type: 'result'; id: number; value?: unknown; error?: { code: ErrorCode; message: string } }
  | { type: 'fatal'; message: string };
