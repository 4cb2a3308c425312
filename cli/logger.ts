import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Pretty-print; defaults to whether stderr is a TTY. */
  pretty?: boolean;
  name?: string;
}

/**
 * The root logger. Logs go to stderr (results go to stdout); pretty only on a TTY.
 * Level from the option, else EDGEWEAVE_LOG_LEVEL, else info.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env['EDGEWEAVE_LOG_LEVEL'] as LevelWithSilent | undefined) ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  const base = { name: options.name ?? 'edgeweave' };
  if (pretty) {
    return pino({
      level,
      base,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,name' } },
    });
  }
  return pino({ level, base }, pino.destination({ dest: 2, sync: false }));
}

/** A logger that discards everything, for library callers and tests that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
