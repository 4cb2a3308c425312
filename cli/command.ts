import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { Logger } from './logger.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** What every command receives: parsed options, positionals, the root logger, and where results go. */
export interface CommandContext {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  log: Logger;
  stdout: NodeJS.WritableStream;
  /**
   * Resolves when SIGINT/SIGTERM arrives; long-running commands await it and close cleanly, within
   * 4 s (then the process exits by force; a second signal exits at once). A command that never
   * reads it exits on the first signal.
   */
  stopSignal: Promise<NodeJS.Signals>;
}

export interface Command {
  name: string;
  summary: string;
  /** Usage line(s) after `edgeweave <name>`, e.g. `[--port 1883] [--host 127.0.0.1]`. */
  usage: string;
  /** Option help lines, one per option: `['--port <n>', 'TCP port (default 1883)']`. */
  help: Array<[string, string]>;
  options: OptionSpec;
  allowPositionals?: boolean;
  /** Returns the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

export function formatHelp(cmd: Command): string {
  const width = Math.max(0, ...cmd.help.map(([flag]) => flag.length));
  const lines = [
    `edgeweave ${cmd.name} — ${cmd.summary}`,
    '',
    `usage: edgeweave ${cmd.name} ${cmd.usage}`.trimEnd(),
  ];
  if (cmd.help.length > 0) {
    lines.push('', 'options:');
    for (const [flag, text] of cmd.help) lines.push(`  ${flag.padEnd(width)}  ${text}`);
  }
  return lines.join('\n') + '\n';
}

/** Parses argv for a command; throws E_USAGE with a readable message on any mistake. */
export function parseCommandArgs(cmd: Command, argv: string[]): Pick<CommandContext, 'values' | 'positionals'> {
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: cmd.allowPositionals ?? false,
      strict: true,
    });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new EdgeweaveError('E_USAGE', message.replace(/\. To specify a positional.*$/s, '.'), { cause: err });
  }
}

/** Reads a numeric option, with a clear usage error when it is not a number in range. */
export function numberOption(
  values: CommandContext['values'],
  name: string,
  fallback: number,
  range: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string') throw new EdgeweaveError('E_USAGE', `--${name} takes a value`);
  const n = Number(raw);
  const { min = -Infinity, max = Infinity, integer = false } = range;
  if (raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    const kind = integer ? 'a whole number' : 'a number';
    const bounds = [Number.isFinite(min) ? `>= ${min}` : '', Number.isFinite(max) ? `<= ${max}` : ''].filter(Boolean).join(' and ');
    throw new EdgeweaveError('E_USAGE', `--${name} must be ${kind}${bounds ? ` ${bounds}` : ''}, got "${raw}"`);
  }
  return n;
}

export function stringOption(values: CommandContext['values'], name: string): string | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new EdgeweaveError('E_USAGE', `--${name} takes a value`);
  return raw;
}
