/**
 * Bounded waits and bounded teardown for tests. `pollUntil` is for state that has no event
 * to await (a planner's device registry): it polls, and fails after `timeoutMs` saying what
 * it waited for. `closeInOrder` and `closeTogether` close what a test opened, each part
 * within its own bound, and say on stderr which part did not close (never throwing, so an
 * `after` hook always gets to the next part).
 */
import { withTimeout } from './mqtt.ts';

/** How long a `before` hook may take: starting brokers, devices (model loading, profiling) and planners. */
export const SETUP_TIMEOUT_MS = 300_000;
/** How long an `after` hook may take; every part inside it has a shorter bound of its own. */
export const TEARDOWN_TIMEOUT_MS = 90_000;

/** Resolves once `check()` holds, looking every `everyMs`; rejects after `timeoutMs` with `what`. */
export async function pollUntil(check: () => boolean, what: string | (() => string), timeoutMs: number, everyMs = 50): Promise<void> {
  let stopped = false;
  const loop = (async (): Promise<void> => {
    while (!stopped && !check()) await new Promise((resolve) => setTimeout(resolve, everyMs));
  })();
  try {
    await withTimeout(loop, timeoutMs, what);
  } finally {
    stopped = true;
  }
}

/** One part to close: a name for the log, the close (absent when the part was never made), its bound. */
export type CloseStep = readonly [name: string, close: (() => unknown) | undefined | null | false, timeoutMs?: number];

export const DEFAULT_CLOSE_TIMEOUT_MS = 15_000;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function closeStep(label: string, [name, close, timeoutMs]: CloseStep): Promise<string | undefined> {
  if (!close) return undefined;
  try {
    await withTimeout(Promise.resolve().then(close), timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS, `${label}: closing ${name}`);
    return undefined;
  } catch (err) {
    return `${name}: ${messageOf(err)}`;
  }
}

function report(label: string, problems: Array<string | undefined>): string[] {
  const failed = problems.filter((p): p is string => p !== undefined);
  if (failed.length > 0) process.stderr.write(`[${label}] not closed cleanly:\n  ${failed.join('\n  ')}\n`);
  return failed;
}

/** Closes the parts one after the other (each bounded); returns (and logs) what failed or did not close in time. */
export async function closeInOrder(label: string, steps: readonly CloseStep[]): Promise<string[]> {
  const problems: Array<string | undefined> = [];
  for (const step of steps) problems.push(await closeStep(label, step));
  return report(label, problems);
}

/** Closes the parts at once (each bounded); returns (and logs) what failed or did not close in time. */
export async function closeTogether(label: string, steps: readonly CloseStep[]): Promise<string[]> {
  return report(label, await Promise.all(steps.map((step) => closeStep(label, step))));
}
