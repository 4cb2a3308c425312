/** A progress line on stderr: a redrawn bar on a TTY, a log line per step otherwise. */
import type { Logger } from 'pino';

export function progressReporter(log: Logger, what: string): (done: number, total: number, label: string) => void {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  return (done, total, label) => {
    const elapsed = (Date.now() - started) / 1000;
    if (tty) {
      const width = 24;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      const line = `${what} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${elapsed.toFixed(0)}s ${label}`;
      process.stderr.write(`\r${line.slice(0, (process.stderr.columns ?? 100) - 1).padEnd(Math.min(100, (process.stderr.columns ?? 100) - 1))}${done === total ? '\n' : ''}`);
    } else {
      log.info({ done, total, label, elapsedS: Math.round(elapsed) }, `${what} progress`);
    }
  };
}
