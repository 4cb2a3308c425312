/**
 * A wait with a bound, for stop paths: a publish or a disconnect that waits on a broker which
 * is gone (or no longer answers) must not hold a process that was told to stop.
 */

/** Resolves true once `promise` settles (either way), false if it has not after `ms`. Never rejects. */
export function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(() => true, () => true);
  return Promise.race([settled, expired]).finally(() => clearTimeout(timer));
}
