import { constants as osConstants } from 'node:os';
import { COMMANDS } from './commands.ts';
import { formatHelp, parseCommandArgs, type Command, type CommandContext } from './command.ts';
import { createLogger } from './logger.ts';
import { isEdgeweaveError } from '../schemas/errors.ts';

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = ['edgeweave — collaborative DNN inference over MQTT', '', 'usage: edgeweave <command> [options]   (edgeweave <command> --help for its options)', '', 'commands:'];
  for (const [name, { summary }] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(width)}  ${summary}`);
  return lines.join('\n') + '\n';
}

/**
 * A stop still running this long after the first signal is cut short: the process exits anyway,
 * within 5 s of the signal whatever a broker, a socket or a stage does.
 */
export const STOP_DEADLINE_MS = 4000;

/** Exits now, as a process killed by `signal` would (128 + its number); worker and child processes are killed on the way out. */
function exitBySignal(name: string, signal: NodeJS.Signals, why: string | undefined): never {
  if (why !== undefined) process.stderr.write(`edgeweave ${name}: ${why}; exiting now\n`);
  process.exit(128 + (osConstants.signals[signal] ?? 15));
}

/**
 * SIGINT/SIGTERM for a command. A command that watches `stopSignal` gets the first signal and
 * stops cleanly, within STOP_DEADLINE_MS or the process exits by force; a second signal exits at
 * once. A command that does not watch it (a short one) exits on the first signal.
 */
function watchSignals(name: string): { readonly stopSignal: Promise<NodeJS.Signals>; readonly stopping: boolean } {
  let watched = false;
  let first: NodeJS.Signals | undefined;
  let resolveStop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => { resolveStop = resolve; });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!watched) exitBySignal(name, signal, undefined);
    if (first !== undefined) exitBySignal(name, signal, `${signal} while stopping after ${first}`);
    first = signal;
    setTimeout(() => exitBySignal(name, signal, `still stopping ${STOP_DEADLINE_MS / 1000} s after ${signal}`), STOP_DEADLINE_MS).unref();
    resolveStop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get stopSignal() {
      watched = true;
      return stopSignal;
    },
    get stopping() {
      return first !== undefined;
    },
  };
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
  const signals = watchSignals(name);
  const ctx: CommandContext = {
    ...parsed, log, stdout: process.stdout,
    get stopSignal() { return signals.stopSignal; },
  };
  const code = await runCommand(name, cmd, ctx);
  log.flush();
  // Stopped by a signal and done stopping: exit now, rather than wait out the timers of work the
  // stop gave up on (a stage held by --speed, a job abandoned).
  if (signals.stopping) await exitAfterStop(code);
  return code;
}

async function runCommand(name: string, cmd: Command, ctx: CommandContext): Promise<number> {
  try {
    return await cmd.run(ctx);
  } catch (err) {
    if (isEdgeweaveError(err) && err.code === 'E_USAGE') {
      process.stderr.write(`edgeweave ${name}: ${err.message}\nrun "edgeweave ${name} --help" for the options\n`);
      return 2;
    }
    if (isEdgeweaveError(err)) {
      process.stderr.write(`edgeweave ${name}: ${err.message} [${err.code}]\n`);
      ctx.log.debug({ err }, 'command failed');
      return 1;
    }
    ctx.log.error({ err }, 'command failed');
    return 1;
  }
}

/** Exits once what the command wrote to stdout is out (its results); the deadline still holds. */
async function exitAfterStop(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
