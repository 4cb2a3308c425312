import { mkdir, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from '../command.ts';
import { numberOption, stringOption } from '../command.ts';
import { DeviceProfile, isValidId, type DeviceProfileInit } from '../../schemas/index.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';
import { engineInfo, formatTable, getTaskGraph, hostInfo, KIB, profileModel, resolveModel } from '../../models/index.ts';
import { asUsage, graphOptions, modelRef, resolveOptions } from './models.ts';

export const command: Command = {
  name: 'profile',
  summary: 'measure per-task latency of a model on this machine and write a DeviceProfile',
  usage: '<model> [--runs N] [--fused] [--shard LAYER=N]... [--device-id ID] [--out FILE] [--json]',
  help: [
    ['--model <path>', 'the model as a model.json (or a folder holding one), instead of the argument'],
    ['--runs <n>', 'timed runs per task after a warm-up; the median is kept (default 10)'],
    ['--fused', 'profile the tasks of the fused DAG'],
    ['--shard <LAYER=N>', 'split Dense layer LAYER into N column shards (repeatable)'],
    ['--max-shard-mib <n>', 'split every Dense layer holding more than n MiB of weights'],
    ['--device-id <id>', 'device id written in the profile (default: the host name)'],
    ['--out <file>', 'where to write the DeviceProfile protobuf (default .edgeweave/profiles/<device>-<model>.pb)'],
    ['--engine <name>', 'tfjs-node, wasm or cpu (default: EDGEWEAVE_ENGINE, else the fastest that loads)'],
    ['--cache-dir <dir>', 'where generated zoo models are cached'],
    ['--json', 'print the profile as JSON'],
  ],
  options: {
    model: { type: 'string' },
    runs: { type: 'string' },
    fused: { type: 'boolean' },
    shard: { type: 'string', multiple: true },
    'max-shard-mib': { type: 'string' },
    'device-id': { type: 'string' },
    out: { type: 'string' },
    engine: { type: 'string' },
    'cache-dir': { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(ctx) {
    if (ctx.positionals.length > 1) throw new EdgeweaveError('E_USAGE', `unexpected argument "${ctx.positionals[1]!}"`);
    const runs = numberOption(ctx.values, 'runs', 10, { min: 1, max: 10000, integer: true });
    const deviceId = stringOption(ctx.values, 'device-id') ?? os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
    if (!isValidId(deviceId)) throw new EdgeweaveError('E_USAGE', `--device-id must be 1-64 characters of [A-Za-z0-9._-], got "${deviceId}"`);
    const options = graphOptions(ctx.values);
    const ref = modelRef(ctx, 0);
    await asUsage(getTaskGraph(ref, options)); // bad options fail before any weight is read
    const model = await resolveModel(ref, resolveOptions(ctx));
    const engine = engineInfo()!;
    const stop = { requested: false };
    void ctx.stopSignal.then(() => {
      stop.requested = true;
    });
    const result = await profileModel(model, {
      ...options,
      runs,
      onTask: (task, i, total) => {
        if (stop.requested) throw new EdgeweaveError('E_EXECUTION', 'profiling interrupted');
        ctx.log.debug({ taskId: task.taskId, ms: task.latencyMs, done: i + 1, total }, 'task profiled');
      },
    });
    const host = hostInfo();
    const profile: DeviceProfileInit = {
      deviceId,
      engine: engine.name,
      cores: host.cores,
      hostMemoryBytes: host.totalMemoryBytes,
      speed: 1,
      measuredAtMs: Date.now(),
      models: [{
        model: { name: result.modelId, sha256: result.modelHash },
        tasks: result.tasks,
        wholePredictMs: result.wholePredictMs,
        sumTasksMs: result.sumTasksMs,
        runs: result.runs,
        fused: result.fused,
      }],
    };
    const out = path.resolve(stringOption(ctx.values, 'out') ?? path.join('.edgeweave', 'profiles', `${deviceId}-${result.modelId}${result.fused ? '-fused' : ''}.pb`));
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, DeviceProfile.encode(profile));
    if (ctx.values['json'] === true) {
      ctx.stdout.write(JSON.stringify({ out, profile, splitRunMs: result.splitRunMs, splitRatio: result.splitRatio }, null, 2) + '\n');
      return 0;
    }
    ctx.stdout.write(formatTable(
      ['task', 'ms', 'out KiB'],
      result.tasks.map((t) => [t.taskId, t.latencyMs.toFixed(3), (t.outputBytes / KIB).toFixed(1)]),
      new Set([1, 2]),
    ));
    ctx.stdout.write(
      `\n${result.modelId} on ${engine.name}, median of ${runs} runs: whole predict ${result.wholePredictMs.toFixed(2)} ms; ` +
        `sum of ${result.tasks.length} tasks ${result.sumTasksMs.toFixed(2)} ms (ratio ${result.splitRatio.toFixed(3)}); ` +
        `all tasks as stages in sequence ${result.splitRunMs.toFixed(2)} ms\nDeviceProfile written to ${out}\n`,
    );
    return 0;
  },
};
