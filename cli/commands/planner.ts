import { randomBytes } from 'node:crypto';
import { numberOption, stringOption, type Command } from '../command.ts';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionOf } from '../connection.ts';
import { PlannerService } from '../../planner/service.ts';
import { ALGORITHM_NAMES, isAlgorithmName } from '../../planner/core/registry.ts';
import type { Objective } from '../../planner/core/types.ts';
import { isValidId } from '../../schemas/topics.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

/** Parses --objective (and its weights) into the core's Objective. */
export function objectiveOption(values: Parameters<Command['run']>[0]['values']): Objective | undefined {
  const kind = stringOption(values, 'objective');
  if (kind === undefined) return undefined;
  switch (kind) {
    case 'latency': return { kind: 'latency' };
    case 'energy': return { kind: 'energy' };
    case 'energy-total': return { kind: 'energy-total' };
    case 'weighted':
      return {
        kind: 'weighted',
        latencyWeight: numberOption(values, 'latency-weight', 1, { min: 0 }),
        energyWeight: numberOption(values, 'energy-weight', 1, { min: 0 }),
      };
    default:
      throw new EdgeweaveError('E_USAGE', `--objective must be latency, energy, energy-total or weighted, got "${kind}"`);
  }
}

export const command: Command = {
  name: 'planner',
  summary: 'run the planner service: plans submitted jobs over the live devices',
  usage: '[--broker <url>] [--id <id>] [--algorithm auto] [--objective latency] [--models <paths>]',
  help: [
    ...CONNECTION_HELP,
    ['--id <id>', 'planner id (default planner-<random>); several planners share the jobs'],
    ['--algorithm <name>', `default algorithm for jobs that name none: ${ALGORITHM_NAMES.join(', ')} (default auto)`],
    ['--objective <kind>', 'default objective: latency, energy, energy-total or weighted (default latency)'],
    ['--latency-weight <w>', 'weight of latency (per second) with --objective weighted (default 1)'],
    ['--energy-weight <w>', 'weight of the origin\'s energy (per joule) with --objective weighted (default 1)'],
    ['--models <list>', 'optional: model.json paths it may plan by path; models the devices hold are learned from them'],
    ['--debug-json', 'mirror every message this planner publishes as JSON under edgeweave/v1/debug/...'],
    ['--plan-dag', 'send each plan to its origin with the job\'s task DAG, for viewers such as the dashboard (default: the plan alone)'],
  ],
  options: {
    ...CONNECTION_OPTIONS,
    id: { type: 'string' },
    algorithm: { type: 'string' },
    objective: { type: 'string' },
    'latency-weight': { type: 'string' },
    'energy-weight': { type: 'string' },
    models: { type: 'string' },
    'debug-json': { type: 'boolean' },
    'plan-dag': { type: 'boolean' },
  },
  async run(ctx) {
    const id = stringOption(ctx.values, 'id') ?? `planner-${randomBytes(3).toString('hex')}`;
    if (!isValidId(id)) throw new EdgeweaveError('E_USAGE', `--id "${id}": use 1-64 characters of A-Z a-z 0-9 . _ -`);
    const algorithm = stringOption(ctx.values, 'algorithm') ?? 'auto';
    if (!isAlgorithmName(algorithm)) throw new EdgeweaveError('E_USAGE', `--algorithm must be one of ${ALGORITHM_NAMES.join(', ')}, got "${algorithm}"`);
    const objective = objectiveOption(ctx.values);
    const models = (stringOption(ctx.values, 'models') ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
    const service = new PlannerService({ id, ...connectionOf(ctx), algorithm, models, log: ctx.log, debugJson: ctx.values['debug-json'] === true, planDag: ctx.values['plan-dag'] === true, ...(objective ? { objective } : {}) });
    await service.start();
    const signal = await ctx.stopSignal;
    ctx.log.info({ signal, planned: service.planned }, 'stopping');
    await service.stop();
    return 0;
  },
};
