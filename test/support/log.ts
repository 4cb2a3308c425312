/**
 * A pino logger that keeps its entries in memory, for asserting what was logged.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface LogEntry {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface CapturedLog {
  log: Logger;
  entries: LogEntry[];
  /** Entries whose fields include all of `fields`. */
  find(fields: Record<string, unknown>): LogEntry[];
}

export function captureLogger(level: pino.LevelWithSilent = 'debug'): CapturedLog {
  const entries: LogEntry[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') entries.push(JSON.parse(line) as LogEntry);
      callback();
    },
  });
  const log = pino({ level }, stream);
  return {
    log,
    entries,
    find: (fields) => entries.filter((e) => Object.entries(fields).every(([k, v]) => e[k] === v)),
  };
}
