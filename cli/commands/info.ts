import * as tf from '@tensorflow/tfjs';
import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';
import { ENGINES, hostInfo, initEngine, isEngineName, type EngineName } from '../../models/index.ts';

const GIB = 1024 ** 3;

/** `--engine` validated as a usage error; undefined when absent (EDGEWEAVE_ENGINE or auto then). */
export function engineOption(values: Parameters<Command['run']>[0]['values']): EngineName | undefined {
  const raw = stringOption(values, 'engine');
  if (raw === undefined) return undefined;
  if (!isEngineName(raw)) throw new EdgeweaveError('E_USAGE', `--engine must be one of ${ENGINES.join(', ')}, got "${raw}"`);
  return raw;
}

export const command: Command = {
  name: 'info',
  summary: 'show the inference engine in use, why faster ones were not taken, and the host',
  usage: '[--engine tfjs-node|wasm|cpu] [--json]',
  help: [
    ['--engine <name>', 'force an engine: tfjs-node, wasm or cpu (default: EDGEWEAVE_ENGINE, else the fastest that loads)'],
    ['--json', 'print machine-readable JSON'],
  ],
  options: { engine: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const engine = await initEngine({ engine: engineOption(ctx.values), log: ctx.log });
    const host = hostInfo();
    if (ctx.values['json'] === true) {
      ctx.stdout.write(JSON.stringify({ engine, host, tfjs: tf.version_core }, null, 2) + '\n');
      return 0;
    }
    const lines = [
      `engine     ${engine.name} (backend ${engine.backend}, version ${engine.version})${engine.forced ? ', forced' : ''}`,
      `           SIMD ${engine.simd ? 'on' : 'off'}, threads ${engine.threads ? 'on' : 'off'}`,
      ...engine.notes.map((n) => `           ${n}`),
      ...engine.notTaken.map((n, i) => `${i === 0 ? 'not taken ' : '          '} ${n.engine}: ${n.reason}`),
      `host       ${host.cores} cores (${host.cpuModel}), ${(host.totalMemoryBytes / GIB).toFixed(1)} GiB memory (${(host.freeMemoryBytes / GIB).toFixed(1)} GiB free)`,
      `           ${host.platform} ${host.arch}, node ${host.node}, tfjs ${tf.version_core}`,
    ];
    ctx.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
