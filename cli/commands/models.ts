import * as tf from '@tensorflow/tfjs';
import type { Command, CommandContext } from '../command.ts';
import { numberOption, stringOption } from '../command.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';
import {
  DEFAULT_TOLERANCE, exportModel, formatTable, formatTaskTable, getTaskGraph, layerGraphOf, listZooModels, loadImageTensor,
  MIB, predictNamed, randomInput, resolveModel, summarizeGraph, topK, verifyModel,
  type DenseShardSpec, type GraphOptions, type ResolveOptions,
} from '../../models/index.ts';
import { engineOption } from './info.ts';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionOf } from '../connection.ts';
import { discoverFleet } from '../../node-runtime/model-argument.ts';

type Values = CommandContext['values'];

/** The model reference: the positional at `index`, or --model. */
export function modelRef(ctx: Pick<CommandContext, 'values' | 'positionals'>, index: number): string {
  const positional = ctx.positionals[index];
  const flag = stringOption(ctx.values, 'model');
  if (positional !== undefined && flag !== undefined) throw new EdgeweaveError('E_USAGE', 'give the model either as an argument or with --model, not both');
  const ref = positional ?? flag;
  if (ref === undefined) throw new EdgeweaveError('E_USAGE', 'missing the model: a zoo name (edgeweave models list) or a path to a model.json');
  return ref;
}

/** --shard L=N (repeatable) and --max-shard-mib N as a DenseShardSpec. */
export function shardSpec(values: Values): DenseShardSpec | undefined {
  const raw = values['shard'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
  const maxMib = values['max-shard-mib'] === undefined ? undefined : numberOption(values, 'max-shard-mib', 0, { min: 0.001 });
  if (list.length > 0 && maxMib !== undefined) throw new EdgeweaveError('E_USAGE', 'use --shard or --max-shard-mib, not both');
  if (maxMib !== undefined) return { maxParamBytes: maxMib * MIB };
  if (list.length === 0) return undefined;
  const spec: Record<string, number> = {};
  for (const item of list) {
    const m = /^(.+)=(\d+)$/.exec(item);
    if (!m || Number(m[2]) < 1) throw new EdgeweaveError('E_USAGE', `--shard takes LAYER=N with N >= 1, got "${item}"`);
    spec[m[1]!] = Number(m[2]);
  }
  return spec;
}

export function graphOptions(values: Values): GraphOptions {
  return { fused: values['fused'] === true, denseShards: shardSpec(values) };
}

export function resolveOptions(ctx: Pick<CommandContext, 'values' | 'log'>): ResolveOptions {
  return { engine: engineOption(ctx.values), cacheDir: stringOption(ctx.values, 'cache-dir'), log: ctx.log };
}

/** Graph option errors (an unknown layer to shard, ...) are the user's: exit 2. */
export async function asUsage<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof EdgeweaveError && err.code === 'E_CONFIG') throw new EdgeweaveError('E_USAGE', err.message, { cause: err });
    throw err;
  }
}

function json(ctx: CommandContext, value: unknown): void {
  ctx.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

async function list(ctx: CommandContext): Promise<number> {
  const rows = await Promise.all(listZooModels().map(async (m) => {
    const { layerGraph } = await layerGraphOf(m.name);
    const unfused = await getTaskGraph(m.name);
    const fused = await getTaskGraph(m.name, { fused: true });
    const s = summarizeGraph(unfused);
    const inputs = unfused.tasks.filter((t) => unfused.inputs.includes(t.id)).map((t) => `${t.id}[${t.outputShape.join('x')}]`);
    return { ...m, inputs, layers: layerGraph.layers.length, tasks: unfused.tasks.length, fusedTasks: fused.tasks.length, paramBytes: s.paramBytes, flops: s.flops };
  }));
  if (ctx.values['json'] === true) {
    json(ctx, rows);
    return 0;
  }
  ctx.stdout.write(formatTable(
    ['name', 'inputs', 'params MiB', 'GFLOPs', 'tasks', 'fused', 'labels', 'description'],
    rows.map((r) => [r.name, r.inputs.join(' '), (r.paramBytes / MIB).toFixed(1), (r.flops / 1e9).toFixed(2), String(r.tasks), String(r.fusedTasks), r.labels ? 'yes' : '-', r.description]),
    new Set([2, 3, 4, 5]),
  ));
  ctx.stdout.write('\nany command that takes a model also takes a path to a model.json or a folder holding one\n');
  return 0;
}

async function inspect(ctx: CommandContext): Promise<number> {
  const graph = await asUsage(getTaskGraph(modelRef(ctx, 1), graphOptions(ctx.values)));
  if (ctx.values['json'] === true) {
    json(ctx, graph);
    return 0;
  }
  const s = summarizeGraph(graph);
  ctx.stdout.write(formatTaskTable(graph));
  ctx.stdout.write(
    `\n${graph.modelId}: ${s.tasks} tasks, ${(s.paramBytes / MIB).toFixed(1)} MiB of weights, ${(s.flops / 1e9).toFixed(2)} GFLOPs; ` +
      `largest task ${s.largestTask?.id ?? '-'} (${((s.largestTask?.paramBytes ?? 0) / MIB).toFixed(1)} MiB); inputs ${graph.inputs.join(', ')}; outputs ${graph.outputs.join(', ')}\n`,
  );
  return 0;
}

async function exportCmd(ctx: CommandContext): Promise<number> {
  const dir = ctx.positionals[ctx.values['model'] === undefined ? 2 : 1];
  if (dir === undefined) throw new EdgeweaveError('E_USAGE', 'missing the output folder: edgeweave models export <model> <dir>');
  const model = await resolveModel(modelRef(ctx, 1), resolveOptions(ctx));
  const file = await exportModel(model, dir);
  if (ctx.values['json'] === true) json(ctx, { modelId: model.modelId, sha256: model.modelHash, file });
  else ctx.stdout.write(`${model.modelId} saved to ${file}\nsha256 ${model.modelHash}\n`);
  return 0;
}

async function verify(ctx: CommandContext): Promise<number> {
  const partitions = numberOption(ctx.values, 'partitions', 5, { min: 0, max: 1000, integer: true });
  const seed = numberOption(ctx.values, 'seed', 1, { integer: true });
  const tolerance = numberOption(ctx.values, 'tolerance', DEFAULT_TOLERANCE, { min: 0 });
  const denseShards = shardSpec(ctx.values);
  const ref = modelRef(ctx, 1);
  await asUsage(getTaskGraph(ref, { denseShards })); // a bad --shard fails before any weight is read
  const model = await resolveModel(ref, resolveOptions(ctx));
  const report = verifyModel(model, { partitions, seed, tolerance, denseShards });
  if (ctx.values['json'] === true) {
    json(ctx, report);
  } else {
    ctx.stdout.write(formatTable(
      ['dag', 'partition', 'stages', 'max |diff|', 'ok'],
      report.checks.map((c) => [c.graph, c.partition, String(c.stages), c.maxAbsDiff.toExponential(2), c.ok ? 'ok' : 'MISMATCH']),
      new Set([2, 3]),
    ));
    ctx.stdout.write(`\n${report.modelId}: ${report.ok ? 'stages match predict' : 'MISMATCH'}: max |diff| ${report.maxAbsDiff.toExponential(2)} (tolerance ${report.tolerance})\n`);
  }
  return report.ok ? 0 : 1;
}

async function predict(ctx: CommandContext): Promise<number> {
  const k = numberOption(ctx.values, 'top', 5, { min: 1, integer: true });
  const seed = numberOption(ctx.values, 'seed', 1, { integer: true });
  const image = stringOption(ctx.values, 'image');
  const model = await resolveModel(modelRef(ctx, 1), resolveOptions(ctx));
  const inputs = randomInput(model, seed);
  if (image !== undefined) {
    const [name, tensor] = Object.entries(await loadImageTensor(image, model))[0]!;
    inputs[name]!.dispose();
    inputs[name] = tensor;
  }
  const outputs = predictNamed(model, inputs);
  const results = Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, topK(t, model.labels, k)]));
  tf.dispose([...Object.values(inputs), ...Object.values(outputs)]);
  if (ctx.values['json'] === true) {
    json(ctx, { modelId: model.modelId, sha256: model.modelHash, image: image ?? null, outputs: results });
    return 0;
  }
  for (const [name, scores] of Object.entries(results)) {
    ctx.stdout.write(`${name}${image === undefined ? ' (random input)' : ''}\n`);
    ctx.stdout.write(formatTable(['#', 'class', 'label', 'score'], scores.map((s, i) => [String(i + 1), String(s.index), s.label, s.score.toFixed(4)]), new Set([0, 1, 3])));
  }
  return 0;
}

/** The models the fleet holds, from the broker's retained cards and statuses alone. */
async function fleet(ctx: CommandContext): Promise<number> {
  const view = await discoverFleet(connectionOf(ctx), ctx.log);
  const models = view.fleet.allCards().map((card) => {
    const sha256 = card.model!.sha256;
    const holders = view.holders.filter((h) => h.modelRefs.some((r) => r.sha256 === sha256));
    return {
      id: card.model!.name, sha256, source: card.source, layers: card.layers, weightBytes: card.weightBytes, convertedBy: card.convertedBy,
      heldBy: holders.filter((h) => h.alive).map((h) => h.deviceId), heldByOffline: holders.filter((h) => !h.alive).map((h) => h.deviceId),
      inputs: card.inputs, outputs: card.outputs, labels: card.labels.length,
    };
  });
  const problems = view.holders.flatMap((h) => h.modelProblems.map((p) => ({ deviceId: h.deviceId, ...p })));
  if (ctx.values['json'] === true) {
    json(ctx, { models, problems });
    return 0;
  }
  const tensor = (t: { name: string; shape: number[]; dtype: string; preprocessing: string; preprocessingDeclared: boolean }): string =>
    `${t.name}[${t.shape.join('x')}] ${t.dtype}${t.preprocessing !== '' ? ` ${t.preprocessing}${t.preprocessingDeclared ? '' : '?'}` : ''}`;
  ctx.stdout.write(formatTable(
    ['id', 'sha256', 'held by (online)', 'inputs', 'outputs', 'labels', 'MiB'],
    models.map((m) => [m.id, m.sha256.slice(0, 12), m.heldBy.join(',') || '-', m.inputs.map(tensor).join(' '), m.outputs.map((o) => `${o.name}[${o.shape.join('x')}]`).join(' '), String(m.labels), (m.weightBytes / MIB).toFixed(1)]),
    new Set([5, 6]),
  ));
  if (models.length === 0) ctx.stdout.write('no model cards on this broker: no device holding a model has connected to it\n');
  for (const p of problems) ctx.stdout.write(`${p.deviceId} cannot use ${p.ref}: ${p.message} [${p.code}]\n`);
  ctx.stdout.write('\nrun one with: edgeweave run --model <id or sha256 prefix> --from <device>   (? after a preprocessing: assumed, not stated by the model)\n');
  return 0;
}

const SUBCOMMANDS: Record<string, (ctx: CommandContext) => Promise<number>> = { list, inspect, export: exportCmd, verify, predict, fleet };

export const command: Command = {
  name: 'models',
  summary: 'list, inspect, export and verify models (zoo or model.json); list the models a fleet holds',
  usage: [
    'list [--json]',
    '  edgeweave models inspect <model> [--fused] [--shard LAYER=N]... [--max-shard-mib N] [--json]',
    '  edgeweave models export <model> <dir>',
    '  edgeweave models verify <model> [--partitions N] [--seed S] [--shard LAYER=N]... [--tolerance T] [--json]',
    '  edgeweave models predict <model> [--image file.jpg|png] [--top K] [--json]',
    '  edgeweave models fleet [--broker <url>] [--json]   (the models the devices hold, from retained messages)',
    '  <model>: a zoo name (models list), or --model <path to model.json or its folder>',
  ].join('\n'),
  help: [
    ['--model <path>', 'the model as a model.json (or a folder holding one), instead of the argument'],
    ['--fused', 'inspect: the fused DAG (blocks and runs of cheap layers as single tasks)'],
    ['--shard <LAYER=N>', 'split Dense layer LAYER into N column shards (repeatable)'],
    ['--max-shard-mib <n>', 'split every Dense layer holding more than n MiB of weights'],
    ['--partitions <n>', 'verify: random partitions per DAG (default 5)'],
    ['--seed <n>', 'verify, predict: seed of the random input and partitions (default 1)'],
    ['--tolerance <x>', `verify: largest accepted |stage - predict| (default ${DEFAULT_TOLERANCE})`],
    ['--image <file>', 'predict: a JPEG or PNG, resized to the model input (default: seeded random input)'],
    ['--top <k>', 'predict: classes to show (default 5)'],
    ['--engine <name>', 'tfjs-node, wasm or cpu (default: EDGEWEAVE_ENGINE, else the fastest that loads)'],
    ['--cache-dir <dir>', 'where generated zoo models are cached (default EDGEWEAVE_CACHE_DIR or ./.edgeweave/models)'],
    ...CONNECTION_HELP,
    ['--json', 'print machine-readable JSON'],
  ],
  options: {
    ...CONNECTION_OPTIONS,
    model: { type: 'string' },
    fused: { type: 'boolean' },
    shard: { type: 'string', multiple: true },
    'max-shard-mib': { type: 'string' },
    partitions: { type: 'string' },
    seed: { type: 'string' },
    tolerance: { type: 'string' },
    image: { type: 'string' },
    top: { type: 'string' },
    engine: { type: 'string' },
    'cache-dir': { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(ctx) {
    const sub = ctx.positionals[0];
    const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!run) {
      throw new EdgeweaveError('E_USAGE', sub === undefined ? `missing subcommand: ${Object.keys(SUBCOMMANDS).join(', ')}` : `unknown subcommand "${sub}" (${Object.keys(SUBCOMMANDS).join(', ')})`);
    }
    const expected: Record<string, number> = { list: 1, inspect: 2, export: 3, verify: 2, predict: 2, fleet: 1 };
    const max = (expected[sub!] ?? 1) - (ctx.values['model'] === undefined || sub === 'list' || sub === 'fleet' ? 0 : 1);
    if (ctx.positionals.length > max) throw new EdgeweaveError('E_USAGE', `unexpected argument "${ctx.positionals[max]!}"`);
    return run(ctx);
  },
};
