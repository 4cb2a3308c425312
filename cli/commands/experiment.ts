import { join } from 'node:path';
import { numberOption, stringOption, type Command } from '../command.ts';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionOf } from '../connection.ts';
import { progressReporter } from '../progress.ts';
import { table } from './run.ts';
import { jobCount, loadScenario, type Scenario } from '../experiment/scenario.ts';
import { runExperiment } from '../experiment/run-experiment.ts';
import { summaryTable } from '../experiment/summary.ts';
import { EdgeweaveError, isEdgeweaveError } from '../../schemas/errors.ts';

export const command: Command = {
  name: 'experiment',
  summary: 'run a declared experiment (a sweep, or a drive along a bandwidth trace); write CSV, JSON and an HTML report',
  usage: '<scenario.json> [--out <dir>] [--data-dir ./.edgeweave] [--seed <n>] [--broker <url>] [--check] [--json]',
  help: [
    ['<scenario.json>', 'the experiment: kind sweep or trajectory (see docs/EXPERIMENTS.md, examples/)'],
    ['--out <dir>', 'results.csv, results.json, report.html and logs/ (default <data-dir>/experiments/<scenario name>)'],
    ['--data-dir <dir>', 'profiles and model cache, shared with the demo (default ./.edgeweave)'],
    ['--seed <n>', 'the seed of the job inputs, instead of the scenario\'s'],
    ...CONNECTION_HELP.map(([f, t]): [string, string] => (f.startsWith('--broker') ? [f, 'use this broker instead of starting the embedded one'] : [f, t])),
    ['--check', 'check the scenario and print what it would run, without running it'],
    ['--json', 'print the result as JSON instead of the table'],
  ],
  options: {
    out: { type: 'string' },
    'data-dir': { type: 'string' },
    seed: { type: 'string' },
    ...CONNECTION_OPTIONS,
    check: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(ctx) {
    if (ctx.positionals.length !== 1) throw new EdgeweaveError('E_USAGE', `give one scenario file${ctx.positionals.length > 1 ? `, got ${ctx.positionals.length}` : ''} (e.g. examples/bandwidth-sweep.json)`);
    const file = ctx.positionals[0]!;
    let scenario: Scenario;
    try {
      scenario = loadScenario(file);
    } catch (err) {
      // A mistake in the scenario is a usage mistake: exit 2, with every problem listed.
      if (!isEdgeweaveError(err) || err.code !== 'E_CONFIG') throw err;
      process.stderr.write(`edgeweave experiment: ${err.message}\n[${err.code}] the scenario format is in docs/EXPERIMENTS.md\n`);
      return 2;
    }
    if (ctx.values['seed'] !== undefined) scenario = { ...scenario, seed: numberOption(ctx.values, 'seed', 1, { min: 0, max: 2 ** 31 - 1, integer: true }) };
    const dataDir = stringOption(ctx.values, 'data-dir') ?? process.env['EDGEWEAVE_DATA_DIR'] ?? '.edgeweave';
    const outDir = stringOption(ctx.values, 'out') ?? join(dataDir, 'experiments', scenario.name.replace(/[^A-Za-z0-9._-]+/g, '-'));
    const external = stringOption(ctx.values, 'broker') !== undefined;
    const connection = external ? connectionOf(ctx) : undefined;
    if (ctx.values['check'] === true) {
      const what = { scenario, jobs: jobCount(scenario), outDir };
      if (ctx.values['json'] === true) ctx.stdout.write(JSON.stringify(what, null, 2) + '\n');
      else ctx.stdout.write(`${file}: a valid ${scenario.kind} scenario "${scenario.name}", ${what.jobs} jobs${scenario.kind === 'trajectory' ? ` over ${scenario.durationS.toFixed(0)} s of drive (${(scenario.durationS / scenario.timeScale).toFixed(0)} s replayed)` : ''}; results would go to ${outDir}\n`);
      return 0;
    }
    let signalled = false;
    void ctx.stopSignal.then(() => { signalled = true; });
    let run: Awaited<ReturnType<typeof runExperiment>>;
    try {
      run = await runExperiment({
        scenario, outDir, dataDir, log: ctx.log, progress: progressReporter(ctx.log, 'experiment'), stop: ctx.stopSignal,
        ...(connection ? { connection } : {}),
      });
    } catch (err) {
      if (!signalled) throw err;
      process.stderr.write('edgeweave experiment: stopped before any job ran; no results written\n');
      return 1;
    }
    const { result, files } = run;
    if (ctx.values['json'] === true) ctx.stdout.write(JSON.stringify({ ...result, files }, null, 2) + '\n');
    else {
      const t = summaryTable(result);
      ctx.stdout.write(table(t.header, t.rows) + '\n');
      if (result.interrupted) ctx.stdout.write('\ninterrupted: the results are partial\n');
      ctx.stdout.write(`\nreport: ${files.html}\n        ${files.csv}\n        ${files.json}\n`);
    }
    const anyOk = result.rows.some((r) => r.status === 'ok');
    return anyOk && !result.interrupted ? 0 : 1;
  },
};
