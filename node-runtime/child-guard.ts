/**
 * Child processes that never outlive this one: whatever way it exits (a forced exit after a
 * stop that overran, a second signal, an uncaught error), those still running are killed on
 * the way out. Used for a device's worker processes and the demo's process group.
 */
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();
let hooked = false;

export function killOnProcessExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}
