/**
 * For tests with mock timers: wait on real I/O and promises by turns of the event loop, not by setTimeout
 * (which the mock holds). The bound is real time, not a count of turns: an apply's fdatasync runs on the
 * thread pool, and a slow disk must not use up a budget of turns while the loop spins with nothing to do.
 */
export async function until(cond: () => boolean, what: string, timeoutMs = 20_000, tick?: () => void): Promise<void> {
  // performance.now() is real time: node:test's mock timers replace setTimeout (and Date, if asked), not this.
  const deadline = performance.now() + timeoutMs;
  for (let turns = 0; ; turns++) {
    if (cond()) return;
    if (performance.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms of real time (${turns} turns): ${what}`);
    tick?.();
    await new Promise((r) => setImmediate(r));
  }
}

/** Lets pending promise callbacks and immediates run. */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}
