import { readFile } from 'node:fs/promises';
import { numberOption, stringOption, type Command, type CommandContext } from '../command.ts';
import {
  ALGORITHM_NAMES, compareAlgorithms, isAlgorithmName, planJob, type Objective, type PlanIssue, type PlanOutcome, type PlanRequest,
} from '../../planner/core/index.ts';
import { parseDevicesFile, type DevicesFile } from '../../planner/devices-file.ts';
import { comparedToJson, formatComparison, formatPlan, planToJson } from '../../planner/plan-report.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';
import type { TaskGraph } from '../../schemas/graph.ts';

interface GraphSourceOptions {
  fused: boolean;
  /** Split Dense layers whose weights exceed this many bytes into shards. */
  denseShardMaxBytes?: number;
}

/**
 * The one adapter to models/: its getTaskGraph(ref, { fused, denseShards }), imported from
 * models/task-graph.ts (the same function models/index.ts exports) so planning never loads tfjs,
 * and only when --model is given.
 */
export async function loadModelGraph(ref: string, options: GraphSourceOptions): Promise<TaskGraph> {
  const { getTaskGraph } = await import('../../models/task-graph.ts');
  return getTaskGraph(ref, options.denseShardMaxBytes === undefined
    ? { fused: options.fused }
    : { fused: options.fused, denseShards: { maxParamBytes: options.denseShardMaxBytes } });
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new EdgeweaveError('E_CONFIG', `cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function readDevices(path: string): Promise<DevicesFile> {
  const parsed = parseDevicesFile(await readText(path, 'devices file'));
  if (!parsed.ok) {
    throw new EdgeweaveError('E_CONFIG', `devices file ${path} is invalid:\n${parsed.issues.map((i) => `  - ${i.message}`).join('\n')}\n(the schema is in docs/PLANNER.md)`);
  }
  return parsed.file;
}

async function readGraphFile(path: string): Promise<TaskGraph> {
  const text = await readText(path, 'task graph');
  try {
    return JSON.parse(text) as TaskGraph;
  } catch (err) {
    throw new EdgeweaveError('E_CONFIG', `task graph ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function parseObjective(values: CommandContext['values']): Objective {
  const kind = stringOption(values, 'objective') ?? 'latency';
  const latencyWeight = numberOption(values, 'latency-weight', 1, { min: 0 });
  const energyWeight = numberOption(values, 'energy-weight', 1, { min: 0 });
  switch (kind) {
    case 'latency':
    case 'energy':
    case 'energy-total':
      return { kind };
    case 'weighted':
      if (latencyWeight + energyWeight <= 0) throw new EdgeweaveError('E_USAGE', '--latency-weight and --energy-weight cannot both be 0');
      return { kind, latencyWeight, energyWeight };
    default:
      throw new EdgeweaveError('E_USAGE', `--objective must be latency, energy, energy-total or weighted, got "${kind}"`);
  }
}

/** A number > 0, or undefined when the option is absent. */
function positiveOption(values: CommandContext['values'], name: string): number | undefined {
  if (values[name] === undefined) return undefined;
  const n = numberOption(values, name, 0, { min: 0 });
  if (n === 0) throw new EdgeweaveError('E_USAGE', `--${name} must be a number > 0, got "${String(values[name])}"`);
  return n;
}

function issuesText(issues: PlanIssue[]): string {
  return issues.map((i) => `  - [${i.code}] ${i.message}${i.path ? ` (at ${i.path})` : ''}`).join('\n');
}

function isMemoryFailure(outcome: PlanOutcome): boolean {
  return !outcome.ok && outcome.issues.some((i) => i.reason === 'memory');
}

export const command: Command = {
  name: 'plan',
  summary: 'plan a model over a devices file offline; compare every algorithm',
  usage: '(--model <name|path> | --graph <file.json>) --devices <file.json> [--algorithm auto] [--objective latency] [--compare] [--json]',
  help: [
    ['--model <name|path>', 'zoo model (vgg16, resnet18, mobilenetv2, inception, chain, fusion) or a model.json path'],
    ['--graph <file.json>', 'a task graph as JSON (schemas/graph.ts TaskGraph) instead of --model'],
    ['--devices <file.json>', 'devices, links, power and the origin (schema: docs/PLANNER.md)'],
    ['--algorithm <name>', `${ALGORITHM_NAMES.join(', ')} (default auto)`],
    ['--objective <kind>', 'latency (default), energy (of the origin), energy-total, weighted'],
    ['--latency-weight <w>', 'weighted objective: weight per second of latency (default 1)'],
    ['--energy-weight <w>', 'weighted objective: weight per joule of origin energy (default 1)'],
    ['--deadline-ms <ms>', 'constraint: end-to-end latency'],
    ['--energy-budget-j <J>', 'constraint: energy of the origin device'],
    ['--lossy', 'let cut tensors travel as float16 or int8 instead of float32'],
    ['--fused', 'plan over the fused (coarser) task graph of --model'],
    ['--dense-shard-mib <MiB>', 'split Dense layers with more weights than this into shards (--model only; automatic when memory demands it)'],
    ['--exclude <id,id>', 'devices to leave out (offline)'],
    ['--compare', 'run every algorithm side by side: latency, origin energy, planning time'],
    ['--json', 'machine-readable output on stdout'],
  ],
  options: {
    model: { type: 'string' },
    graph: { type: 'string' },
    devices: { type: 'string' },
    algorithm: { type: 'string' },
    objective: { type: 'string' },
    'latency-weight': { type: 'string' },
    'energy-weight': { type: 'string' },
    'deadline-ms': { type: 'string' },
    'energy-budget-j': { type: 'string' },
    lossy: { type: 'boolean' },
    fused: { type: 'boolean' },
    'dense-shard-mib': { type: 'string' },
    exclude: { type: 'string' },
    compare: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const { values } = ctx;
    const modelRef = stringOption(values, 'model');
    const graphPath = stringOption(values, 'graph');
    const devicesPath = stringOption(values, 'devices');
    if (devicesPath === undefined) throw new EdgeweaveError('E_USAGE', '--devices <file.json> is required');
    if ((modelRef === undefined) === (graphPath === undefined)) throw new EdgeweaveError('E_USAGE', 'give exactly one of --model <name|path> and --graph <file.json>');
    const algorithm = stringOption(values, 'algorithm') ?? 'auto';
    if (!isAlgorithmName(algorithm)) throw new EdgeweaveError('E_USAGE', `--algorithm must be one of ${ALGORITHM_NAMES.join(', ')}, got "${algorithm}"`);
    const objective = parseObjective(values);
    const deadline = positiveOption(values, 'deadline-ms');
    const budget = positiveOption(values, 'energy-budget-j');
    const shardMiB = positiveOption(values, 'dense-shard-mib');
    if (shardMiB !== undefined && modelRef === undefined) throw new EdgeweaveError('E_USAGE', '--dense-shard-mib needs --model');
    const json = values['json'] === true;

    const devicesFile = await readDevices(devicesPath);
    const excludeOption = (stringOption(values, 'exclude') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const id of excludeOption) {
      if (!devicesFile.devices.some((d) => d.id === id)) throw new EdgeweaveError('E_USAGE', `--exclude names "${id}", which is not in ${devicesPath}`);
    }
    const exclude = [...devicesFile.excludeDevices, ...excludeOption];
    const fused = values['fused'] === true;
    const loadGraph = (denseShardMaxBytes?: number): Promise<TaskGraph> =>
      modelRef !== undefined
        ? loadModelGraph(modelRef, denseShardMaxBytes === undefined ? { fused } : { fused, denseShardMaxBytes })
        : readGraphFile(graphPath!);
    const constraints: PlanRequest['constraints'] = {};
    if (deadline !== undefined) constraints.deadlineMs = deadline;
    if (budget !== undefined) constraints.energyBudgetJ = budget;
    const requestFor = (graph: TaskGraph): PlanRequest => ({
      graph,
      devices: devicesFile.devices,
      origin: devicesFile.origin,
      algorithm,
      objective,
      constraints,
      transport: { allowLossy: values['lossy'] === true },
      pins: devicesFile.pins,
      excludeDevices: exclude,
      cost: devicesFile.cost,
    });

    let request = requestFor(await loadGraph(shardMiB === undefined ? undefined : shardMiB * 2 ** 20));
    // When weights do not fit, ask models/ for Dense shards small enough to spread, once.
    const smallest = Math.min(...devicesFile.devices.filter((d) => !exclude.includes(d.id)).map((d) => d.memoryBytes));
    const retryWithShards = async (outcome: PlanOutcome): Promise<boolean> => {
      if (modelRef === undefined || shardMiB !== undefined || !isMemoryFailure(outcome) || !Number.isFinite(smallest)) return false;
      const maxBytes = Math.max(2 ** 20, Math.floor(smallest / 4));
      ctx.log.info({ maxShardMiB: +(maxBytes / 2 ** 20).toFixed(1) }, 'memory is short: splitting Dense layers into shards');
      request = requestFor(await loadGraph(maxBytes));
      return true;
    };

    if (values['compare'] === true) {
      let list = compareAlgorithms(request);
      if (list.every((c) => isMemoryFailure(c.outcome)) && (await retryWithShards(list[0]!.outcome))) list = compareAlgorithms(request);
      ctx.stdout.write(json ? JSON.stringify(comparedToJson(list), null, 2) + '\n' : formatComparison(list));
      return list.some((c) => c.outcome.ok) ? 0 : 1;
    }

    let outcome = planJob(request);
    if (await retryWithShards(outcome)) outcome = planJob(request);
    if (!outcome.ok) {
      if (json) ctx.stdout.write(JSON.stringify({ algorithm, ok: false, issues: outcome.issues }, null, 2) + '\n');
      else process.stderr.write(`edgeweave plan: no plan with ${algorithm}:\n${issuesText(outcome.issues)}\n`);
      return 1;
    }
    if (json) {
      ctx.stdout.write(JSON.stringify(planToJson(outcome.plan), null, 2) + '\n');
    } else {
      const caps = Object.fromEntries(devicesFile.devices.map((d) => [d.id, d.memoryBytes]));
      ctx.stdout.write(formatPlan(outcome.plan, caps));
    }
    return 0;
  },
};
