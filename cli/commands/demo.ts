import { stringOption, numberOption, type Command } from '../command.ts';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionOf } from '../connection.ts';
import { runDemo, DEMO_ALGORITHMS, DEMO_MODELS } from '../demo/run-demo.ts';
import { demoFigures, demoTable, writeDemoReports } from '../demo/report.ts';
import { progressReporter } from '../progress.ts';
import { ALGORITHM_NAMES, isAlgorithmName } from '../../planner/core/registry.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

/** The connection flags as the demo reads them: for an external broker only. */
const DEMO_CONNECTION_HELP: Record<string, string> = {
  '--broker <url>': 'use this broker instead of starting the embedded one',
  '--username <name>': 'with --broker: the login of every process the demo starts (a user who may act as all of them, e.g. an admin)',
  '--ca <file>': 'with --broker: PEM certificate to trust for its mqtts:// or wss:// URL',
};

export const command: Command = {
  name: 'demo',
  summary: 'the main job: broker, planner and three emulated devices; compare strategies across models and links',
  usage: '[--quick] [--tls | --broker <url>] [--data-dir ./.edgeweave] [--models a,b] [--algorithms a,b] [--repeat 1] [--json]',
  help: [
    ['--quick', 'one model (mobilenetv2) at one link setting (wifi): a short check'],
    ['--tls', 'secure the embedded broker: MQTT and WebSocket over TLS (self-signed certificate in <data-dir>/tls/) and a login per process'],
    ...CONNECTION_HELP.map(([f, t]): [string, string] => [f, DEMO_CONNECTION_HELP[f] ?? t]),
    ['--data-dir <dir>', 'logs, model cache, profiles and the reports (default ./.edgeweave)'],
    ['--models <list>', `comma-separated (default ${DEMO_MODELS.join(',')})`],
    ['--algorithms <list>', `comma-separated (default ${DEMO_ALGORITHMS.join(',')})`],
    ['--repeat <n>', 'jobs per model, link and algorithm (default 1)'],
    ['--json', 'print the result as JSON instead of the table'],
  ],
  options: {
    quick: { type: 'boolean' },
    tls: { type: 'boolean' },
    ...CONNECTION_OPTIONS,
    'data-dir': { type: 'string' },
    models: { type: 'string' },
    algorithms: { type: 'string' },
    repeat: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const list = (name: string): string[] | undefined => stringOption(ctx.values, name)?.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const algorithms = list('algorithms');
    for (const a of algorithms ?? []) if (!isAlgorithmName(a)) throw new EdgeweaveError('E_USAGE', `--algorithms: "${a}" is not one of ${ALGORITHM_NAMES.join(', ')}`);
    const dataDir = stringOption(ctx.values, 'data-dir') ?? process.env['EDGEWEAVE_DATA_DIR'] ?? '.edgeweave';
    const external = stringOption(ctx.values, 'broker') !== undefined;
    const tls = ctx.values['tls'] === true;
    if (tls && external) throw new EdgeweaveError('E_USAGE', '--tls secures the embedded broker; with --broker, give that broker\'s --ca, --username and --password instead');
    const models = list('models');
    const json = ctx.values['json'] === true;
    const result = await runDemo({
      ...(external ? { connection: connectionOf(ctx) } : {}),
      quick: ctx.values['quick'] === true, tls, dataDir, log: ctx.log,
      ...(models ? { models } : {}), ...(algorithms ? { algorithms } : {}),
      repeat: numberOption(ctx.values, 'repeat', 1, { min: 1, max: 1000, integer: true }),
      progress: progressReporter(ctx.log, 'demo'), stop: ctx.stopSignal,
      onStarted: ({ dashboardUrl }) => {
        if (!json && dashboardUrl !== undefined) ctx.stdout.write(`dashboard: ${dashboardUrl}\n`);
      },
    });
    if (result.interrupted && result.rows.length === 0) {
      process.stderr.write('edgeweave demo: stopped before any job ran\n');
      return 1;
    }
    const files = writeDemoReports(result, dataDir);
    const figures = demoFigures(result.rows);
    if (json) ctx.stdout.write(JSON.stringify({ ...result, figures, files }, null, 2) + '\n');
    else {
      ctx.stdout.write(demoTable(result.rows));
      ctx.stdout.write(`\nprediction error: median ${(figures.predictionErrorMedian * 100).toFixed(1)}%, p90 ${(figures.predictionErrorP90 * 100).toFixed(1)}%\n`);
      for (const [m, s] of Object.entries(figures.autoSpeedup)) ctx.stdout.write(`auto over local, ${m}: ${s.toFixed(2)}x\n`);
      if (result.interrupted) ctx.stdout.write('\ninterrupted: the results are partial\n');
      ctx.stdout.write(`report: ${files.html}\n        ${files.json}\n`);
    }
    const failed = result.rows.filter((r) => r.status !== 'ok').length;
    return failed > 0 || result.interrupted ? 1 : 0;
  },
};
