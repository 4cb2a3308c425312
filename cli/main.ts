import { COMMANDS } from './commands.ts';
import { formatHelp, parseCommandArgs, type CommandContext } from './command.ts';
import { createLogger } from './logger.ts';
import { isEdgeweaveError } from '../schemas/errors.ts';

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = ['edgeweave — collaborative DNN inference over MQTT', '', 'usage: edgeweave <command> [options]   (edgeweave <command> --help for its options)', '', 'commands:'];
  for (const [name, { summary }] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(width)}  ${summary}`);
  return lines.join('\n') + '\n';
}

function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview());
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`edgeweave: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  const cmd = await entry.load();
  let parsed: Pick<CommandContext, 'values' | 'positionals'>;
  try {
    parsed = parseCommandArgs(cmd, rest);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`edgeweave ${name}: ${message}\nrun "edgeweave ${name} --help" for the options\n`);
    return 2;
  }
  if (parsed.values['help'] === true) {
    process.stdout.write(formatHelp(cmd));
    return 0;
  }
  const log = createLogger();
  try {
    return await cmd.run({ ...parsed, log, stdout: process.stdout, stopSignal: stopSignal() });
  } catch (err) {
    if (isEdgeweaveError(err) && err.code === 'E_USAGE') {
      process.stderr.write(`edgeweave ${name}: ${err.message}\nrun "edgeweave ${name} --help" for the options\n`);
      return 2;
    }
    if (isEdgeweaveError(err)) {
      process.stderr.write(`edgeweave ${name}: ${err.message} [${err.code}]\n`);
      log.debug({ err }, 'command failed');
      return 1;
    }
    log.error({ err }, 'command failed');
    return 1;
  } finally {
    log.flush();
  }
}
